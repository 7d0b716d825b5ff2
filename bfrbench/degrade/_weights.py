"""Data files the degradation ops use (the ``degrade`` weight catalogue, gathered by ``bfrbench.weights``).

* ``dtbfr-ccm-awb-dictionary``: DT-BFR's pool of 282 colour matrices and white-balance gains
  (``data_prep/data/ccm_awb_dictionary_52_plus_230.p``), a 57,518-byte pickle of numpy arrays. The repository
  is CC BY-NC-SA 4.0, so the file is not shipped with bfrbench: it is downloaded from the official repository
  pinned at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd (raw GitHub URL). The SHA-256 was computed by us on
  that commit's blob (git object 71ac76ea2fd18ae775b9d4b27891caca40bfcf6d); the authors publish none.
  It is read by a numpy-only unpickler (:mod:`bfrbench.degrade.raw_ccm`), never by ``pickle.load``.
* ``demosaicnet-bayer``: the released Bayer DemosaicNet weights (Gharbi et al. 2016). The same file ships
  in the ``demosaicnet`` 0.0.14 wheel on PyPI (MIT; ``demosaicnet/data/bayer.pth``) and in DT-BFR's vendored
  copy (``data_prep/demosaicnet/data/bayer.pth``); SHA-256 measured on both (identical). With
  ``pip install demosaicnet`` the package file is used offline; otherwise the file is downloaded from the
  DT-BFR commit. A plain ``state_dict`` of float32 tensors, loaded with ``weights_only=True``.
"""

from __future__ import annotations

from bfrbench.weights import WeightFile

DTBFR_COMMIT = "ec3d4043e4d0c610fe7e345448cc1298e132b5dd"
_RAW = f"https://raw.githubusercontent.com/SamsungLabs/DT-BFR/{DTBFR_COMMIT}/"

WEIGHTS: list[WeightFile] = [
    WeightFile(
        name="dtbfr-ccm-awb-dictionary", filename="ccm_awb_dictionary_52_plus_230.p",
        urls=(_RAW + "data_prep/data/ccm_awb_dictionary_52_plus_230.p",),
        sha256="7780319a189b66cb1aef1eea32e377e3ad4f732049520f101ab856eb66860255", size=57518,
        license="CC BY-NC-SA 4.0 (SamsungLabs/DT-BFR LICENSE)",
        source="DT-BFR (Kuai et al., WACV 2025) data_prep/data/ccm_awb_dictionary_52_plus_230.p: 282 colour "
               "matrices and AWB gains sampled by 3-NN to invert the ISP (Punnappurath et al.)",
        note=f"SHA-256 computed by bfrbench on the file at commit {DTBFR_COMMIT}; not published by the authors"),
    WeightFile(
        name="demosaicnet-bayer", filename="bayer.pth",
        urls=(_RAW + "data_prep/demosaicnet/data/bayer.pth",),
        sha256="a90f45c34b89fea3faf49060687839a7d191d302f597a302b31d1bbc021ff7d8", size=2251181,
        license="MIT (demosaicnet package, Michaël Gharbi)",
        source="Deep Joint Demosaicking and Denoising (Gharbi et al., SIGGRAPH Asia 2016): released Bayer "
               "model (depth 15, width 64), as used by DT-BFR's data_prep/generate_LQ_from_HQ.py",
        package="demosaicnet:demosaicnet/data/bayer.pth",
        note="identical file in the demosaicnet 0.0.14 wheel (PyPI) and in DT-BFR's vendored copy; SHA-256 "
             "measured by bfrbench on both"),
]
