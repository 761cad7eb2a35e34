"""An oracle for the VAD port: runs the unmodified official hustvl/VAD model code on stand-ins for mmcv, mmdet,
mmdet3d and torchvision, and compares it with ``occsim.planners.vad`` on the same weights and frames.

Not part of the installed package; ``benchmarks/vad_oracle.py`` is the command line. Importing this package has no
side effects: ``install.load_vad`` is what puts the stand-ins into ``sys.modules``.
"""
