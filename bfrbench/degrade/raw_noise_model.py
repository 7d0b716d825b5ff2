"""ISO -> heteroscedastic Gaussian noise parameters of DT-BFR's default sensor (IMX754).

Source: SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd. ``generate_LQ_from_HQ.py`` uses
sensor ``IMX754`` by default (CFA GRBG) and its "HG" model
``data_prep/noise_profiler/hg-s22u-s908u-na-b0q-pr-t2-id35248-v7/``: ``model_params.npy`` (rows
``[iso, channel, shot, read]``, 18 calibrated ISOs x 4 CFA cell positions) and two pickled lists of
``scipy.interpolate.InterpolatedUnivariateSpline`` (one per position) through exactly those points:
shot (``iso2b1``) with ``k=1``, read (``iso2b2``) with ``k=3``, ``ext=0`` (extrapolate).
``synthesize_noisy_image_v2`` takes the table row when the ISO is a calibrated one, else the splines.

The table below is ``model_params.npy`` (the calibrated figures, read as data); the splines are rebuilt from
it with scipy, which we checked gives bit-identical values to the pickled spline objects at ISO 100, 1500,
3000 and 6500 (tests/degrade/test_degrade_raw_ops.py pins the 1500 and 3000 values read from the pickles).
License of the source repository: CC BY-NC-SA 4.0 (these calibration figures are attributed to it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["ISOS", "NOISE_MODELS", "noise_params"]

NOISE_MODELS = ("imx754",)

ISOS: tuple[int, ...] = (36, 49, 99, 150, 199, 300, 399, 600, 799, 1200, 1599, 1997, 2401, 3199, 3995, 4803,
                         5396, 5997)
# shot (beta1) and read (beta2) per ISO row, per CFA cell position (0,0), (0,1), (1,0), (1,1); raw units.
_SHOT = (
    (0.20708572353601873, 0.20877281986711296, 0.20586913379673535, 0.2056029228172219),
    (0.2534387135845014, 0.28330364533738894, 0.27864350765562845, 0.25517941966067353),
    (0.4589146765893737, 0.5362357113753524, 0.5290403720014624, 0.45500026463829335),
    (0.6565982797486652, 0.7846746977997561, 0.7881666574778774, 0.6582842547363961),
    (0.8728748774548691, 1.0526175360273073, 1.0351766499850288, 0.8724735706291757),
    (1.2946100736116242, 1.5748784077678055, 1.5413933947302454, 1.2746781547392219),
    (1.6834949408390056, 2.0448161586057787, 2.0268122898743655, 1.6994628603112536),
    (2.4900184481795438, 2.8824186462125216, 2.9162474905494866, 2.483366404047055),
    (3.123004566229558, 3.6623066203225054, 3.676054403948894, 3.1575069886981013),
    (4.315351087152719, 5.06416703603239, 5.061427147357763, 4.308247872472753),
    (5.674788927168605, 6.762723225265411, 6.810212087495726, 5.7253264020470755),
    (7.372509966041378, 8.748660445385358, 8.855976647003985, 7.27967045067018),
    (8.674755594228388, 10.35585306153158, 10.259258530749252, 8.637377189328886),
    (11.859548828052047, 13.942913907363456, 13.627789904037636, 11.851140052291436),
    (14.850199758443988, 17.133461981108525, 16.52090272301858, 14.476284056389888),
    (16.33013454766901, 18.582338677381397, 18.26171524169099, 16.65385128769691),
    (16.828942898127487, 18.760306512263856, 17.351531413831932, 16.511707116309637),
    (16.5952158731729, 18.84820494679795, 17.42454722562677, 16.591790389704084),
)
_READ = (
    (-14.012188965327741, -13.264456864816097, -12.886898249224197, -13.756741768653127),
    (-16.702113360874662, -18.127673059524707, -17.335900094651553, -17.038237817333247),
    (-29.66782139870855, -33.35459895181064, -32.20894686100388, -29.149873677816952),
    (-40.7915565202248, -47.71011779041606, -47.73034816547058, -41.380323074084316),
    (-55.041447096072574, -64.88068850506349, -61.913229271805974, -54.89044942016402),
    (-81.06802311715852, -96.04551343891549, -91.61758039273975, -77.19956950566245),
    (-98.33080852543384, -120.56922357054195, -117.56823984818153, -102.42146449989578),
    (-145.40103939000988, -157.48501143662133, -162.2403144780271, -143.4601452707852),
    (-173.48324353897848, -192.79612287342908, -198.10990814923625, -177.1895255811202),
    (-215.72620331549348, -235.21210989854123, -241.86435420057438, -217.9789718959181),
    (-258.57418444966646, -285.9112461820247, -304.3453088849091, -255.49056932237647),
    (-307.4776139448369, -350.62718772553393, -384.97849910071176, -289.1413353700273),
    (-310.677876545589, -377.7385303647273, -398.8094210331221, -287.4685199762581),
    (-335.5583162425229, -444.9433604520102, -420.07195429285025, -315.919516951654),
    (-322.59059947083455, -442.794504821369, -390.64836780783315, -272.1511022018271),
    (-246.14632799367362, -312.2640251830728, -306.3697389394199, -305.08864308694234),
    (-325.58033956999304, -362.2584434299291, -185.3761911013399, -271.14905657814654),
    (-318.7727589020922, -355.74332340489104, -215.86102354227748, -266.72274424156103),
)


@lru_cache(maxsize=1)
def _splines() -> tuple[list[object], list[object]]:
    from scipy.interpolate import InterpolatedUnivariateSpline

    x = np.asarray(ISOS, dtype=np.float64)
    shot, read = np.asarray(_SHOT), np.asarray(_READ)
    return ([InterpolatedUnivariateSpline(x, shot[:, c], k=1) for c in range(4)],
            [InterpolatedUnivariateSpline(x, read[:, c], k=3) for c in range(4)])


def noise_params(iso: float, model: str = "imx754") -> tuple[np.ndarray, np.ndarray]:
    """(shot, read): two float64 (4,) arrays at ``iso`` for the CFA cell positions (0,0), (0,1), (1,0), (1,1).

    A calibrated ISO returns its table row; any other ISO the splines' value (extrapolated outside 36-5997).
    """
    if model != "imx754":
        raise ValueError(f"unknown noise model {model!r}; accepted: {', '.join(NOISE_MODELS)}")
    if iso in ISOS:
        r = ISOS.index(iso)
        return np.asarray(_SHOT[r], dtype=np.float64), np.asarray(_READ[r], dtype=np.float64)
    s1, s2 = _splines()
    return (np.array([float(s(iso)) for s in s1]),  # type: ignore[operator]
            np.array([float(s(iso)) for s in s2]))  # type: ignore[operator]
