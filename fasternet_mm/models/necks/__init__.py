from .pconv_pafpn import PConvPAFPN

__all__ = ['PConvPAFPN']
