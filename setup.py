from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version():
    scope = {}
    with open('fasternet_mm/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='fasternet_mm',
    version=version(),
    description='FasterNet (CVPR 2023) backbones for MMDetection 3.x and '
    'MMSegmentation 1.x',
    long_description=readme(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    # Tested: Python 3.11 on the two stacks of requirements/stack-*.txt
    # (torch 2.1 + numpy 1.26, torch 2.13 + numpy 2); the code is kept to
    # Python 3.8 syntax, which `make lint` checks with vermin.
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.1',
        'numpy',
        'mmengine>=0.10.7,<1.0',
        'mmcv>=2.1.0,<2.2.0',
        # mmengine resolves mmdet:: / mmseg:: bases with pkg_resources.
        'setuptools<81'
    ],
    extras_require={
        'det': [
            'mmdet>=3.3.0,<3.4.0', 'pycocotools', 'shapely', 'scipy',
            'terminaltables'
        ],
        'seg':
        ['mmsegmentation>=1.2.2,<1.3.0', 'ftfy', 'regex', 'prettytable'],
        'deploy': ['onnx', 'onnxruntime'],
        # Whole-model deployment (tools/deployment/deploy.py); installed on
        # the torch 2.1 stack only (requirements/stack-torch2.1.txt).
        'mmdeploy':
        ['mmdeploy==1.3.1', 'mmdeploy-runtime==1.3.1', 'openvino', 'nncf'],
        'dev': ['pytest', 'matplotlib', 'flake8', 'isort', 'yapf', 'vermin'],
    },
    zip_safe=False,
)
