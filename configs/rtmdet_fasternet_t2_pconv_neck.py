# ./rtmdet_fasternet_t2.py with FasterNet blocks in the neck as well: the
# PConvPAFPN neck is RTMDet's CSPNeXtPAFPN whose CSP layers hold FasterNet
# blocks (PConv + two pointwise convs) instead of CSPNeXt blocks; its other
# arguments, widths and the rest of the detector and recipe stay. Not
# trained (fasternet_mm/models/necks/pconv_pafpn.py; docs/detection.md).
_base_ = './rtmdet_fasternet_t2.py'

model = dict(neck=dict(type='PConvPAFPN'))
