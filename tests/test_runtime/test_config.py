"""load_config: a config that cannot be loaded is an error naming it."""
import pytest

from fasternet_mm.errors import UserInputError
from fasternet_mm.runtime import load_config


def test_missing_config_file(tmp_path):
    path = tmp_path / 'nope.py'
    with pytest.raises(
            UserInputError, match=rf"config file '{path}' does "
            'not exist'):
        load_config(str(path))


def test_txt_config_is_refused_with_the_supported_types(tmp_path):
    path = tmp_path / 'config.txt'
    path.write_text("model = dict(type='FasterNet')\n")
    with pytest.raises(
            UserInputError,
            match=rf"config '{path}' cannot be loaded: .*configs are \.py, "
            r'\.json or \.yaml files'):
        load_config(str(path))


def test_syntax_error_names_the_file(tmp_path):
    path = tmp_path / 'broken.py'
    path.write_text('model = dict(type=\n')
    with pytest.raises(
            UserInputError,
            match=rf"config '{path}' cannot be loaded: SyntaxError"):
        load_config(str(path))


def test_missing_base_names_the_file_and_base_paths(tmp_path):
    path = tmp_path / 'child.py'
    path.write_text("_base_ = './no_such_base.py'\n")
    with pytest.raises(
            UserInputError,
            match=rf"config '{path}' cannot be loaded: .*no_such_base.*"
            r'check the file and its _base_ paths'):
        load_config(str(path))


def test_config_of_another_codebase_is_refused(tmp_path):
    path = tmp_path / 'cls.py'
    path.write_text("default_scope = 'mmpretrain'\n")
    with pytest.raises(UserInputError, match="default_scope is 'mmpretrain'"):
        load_config(str(path))


@pytest.mark.parametrize('test_cfg', [None, dict(size_divisor=16)])
def test_segmentation_test_padding_must_be_a_multiple_of_32(test_cfg):
    """Without it, tools/test.py gives another mIoU (18.59 vs 20.48 on the
    demo) without a word."""
    from helpers import REPO_ROOT

    from fasternet_mm.errors import ConfigValueError
    from fasternet_mm.runtime import check_input_padding
    cfg = load_config(
        f'{REPO_ROOT}/configs/demo/upernet_fasternet_t0_ade20k_demo.py')
    check_input_padding(cfg)
    cfg.model.data_preprocessor.test_cfg = test_cfg
    with pytest.raises(
            ConfigValueError,
            match=r'model.data_preprocessor.test_cfg is .*: test images of a '
            r'size not divisible by 32 .* set model.data_preprocessor.test_cfg'
            r'=dict\(size_divisor=32\)'):
        check_input_padding(cfg)
