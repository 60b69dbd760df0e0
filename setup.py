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
    python_requires='>=3.8',
    # Exact pins for the CI machine live in requirements/constraints-cpu.txt.
    install_requires=['torch>=1.10', 'mmengine>=0.10.0,<1.0', 'mmcv>=2.0.0,<2.2.0'],
    extras_require={
        'det': ['mmdet>=3.0.0,<3.4.0', 'pycocotools', 'shapely', 'scipy',
                'terminaltables'],
        'seg': ['mmsegmentation>=1.0.0,<1.3.0', 'ftfy', 'regex', 'prettytable'],
        'deploy': ['onnx', 'onnxruntime'],
        'dev': ['pytest', 'matplotlib'],
    },
    zip_safe=False,
)
