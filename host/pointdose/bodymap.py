"""Common trigger-point locations, left and right, with where to draw them on a body figure.

Locations follow the trigger points described in Simons, Travell & Simons, *Myofascial Pain and
Dysfunction: The Trigger Point Manual*, vol. 1, 2nd ed. (1999; upper body and trunk) and Travell &
Simons, vol. 2 (1992; lower body), several per muscle where the manual describes several (e.g. upper
trapezius TrP1/TrP2, gluteus medius TrP1–3, gastrocnemius TrP1–4). Their descriptions name the
landmark a therapist palpates from; the figure coordinates are **schematic** (placed on this
module's outline so points do not overlap), not measurements: the record of a point is its
location id, side and optional landmark distances, not the pixel.

Coordinates: each view (``front``, ``back``) is a box ``x, y ∈ [0, 1]``, y down, drawn
:data:`ASPECT` times taller than wide. The table holds the patient's **left** side; the right is
mirrored (``x → 1 − x``). In the back view the patient's left is on the viewer's left; in the
front view it is on the viewer's right.

Each location carries its **part** of the body (``neck``, ``lower_leg`` …: a client's screening,
e.g. a suspected deep-vein thrombosis, refuses every lower-limb point) and its **region cautions**
(keys of :data:`pointdose.protocols.cautions.REGIONS`: anterior neck / carotid, posterior triangle,
suboccipital, axilla, femoral triangle, popliteal fossa, abdomen). What a caution does (refuse,
lower the limits, ask for an acknowledgement) is decided in :mod:`pointdose.protocols.cautions`,
with its source; docs/protocols.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ASPECT = 2.0  # figure height / width
SIDES = ("L", "R")
PARTS = ("head", "neck", "chest", "upper_back", "axilla", "abdomen", "lower_back", "hip", "groin", "thigh", "knee",
         "lower_leg")
LOWER_LIMB = frozenset({"groin", "thigh", "knee", "lower_leg"})  # "leg points" for a suspected DVT


@dataclass(frozen=True)
class Location:
    id: str
    part: str  # one of PARTS
    muscle: str
    label: str
    landmark: str  # how a therapist finds it
    view: str  # "front" or "back"
    x: float  # patient's left side
    y: float
    cautions: tuple[str, ...] = field(default=())  # keys of pointdose.protocols.cautions.REGIONS

    def xy(self, side: str) -> tuple[float, float]:
        if side not in SIDES:
            raise ValueError(f"side must be L or R, not {side!r}")
        return (self.x, self.y) if side == "L" else (1.0 - self.x, self.y)

    @property
    def caution(self) -> str | None:
        """The first region caution's key (None without one); :attr:`cautions` has them all."""
        return self.cautions[0] if self.cautions else None

    @property
    def lower_limb(self) -> bool:
        return self.part in LOWER_LIMB

    def caution_text(self) -> str | None:
        """The region cautions' warnings, one sentence each (None without any)."""
        if not self.cautions:
            return None
        from pointdose.protocols.cautions import REGIONS

        return " ".join(REGIONS[key].warning for key in self.cautions)


def _loc(id, part, muscle, label, landmark, view, x, y, *cautions) -> Location:
    if part not in PARTS:
        raise ValueError(f"{id}: unknown body part {part!r}")
    return Location(id, part, muscle, label, landmark, view, x, y, tuple(cautions))


# fmt: off
LOCATIONS: tuple[Location, ...] = (
    # --- neck and shoulder girdle (back view) ------------------------------------------------
    _loc("upper_trapezius.1", "upper_back", "upper trapezius", "Upper trapezius TrP1",
         "mid upper border of the trapezius, anterior fibres, between C7 and the acromion", "back", 0.405, 0.166),
    _loc("upper_trapezius.2", "upper_back", "upper trapezius", "Upper trapezius TrP2",
         "just below and lateral to TrP1, mid upper border", "back", 0.375, 0.182),
    _loc("middle_trapezius.5", "upper_back", "middle trapezius", "Middle trapezius TrP5",
         "about 1 cm medial to the root of the scapular spine", "back", 0.455, 0.205),
    _loc("lower_trapezius.3", "upper_back", "lower trapezius", "Lower trapezius TrP3",
         "lateral border of the lower trapezius, near the inferior angle level", "back", 0.445, 0.285),
    _loc("levator_scapulae.upper", "neck", "levator scapulae", "Levator scapulae (upper)",
         "angle of the neck, where the muscle emerges from under the upper trapezius", "back", 0.452, 0.150),
    _loc("levator_scapulae.lower", "upper_back", "levator scapulae", "Levator scapulae (lower)",
         "about 1.3 cm above the superior angle of the scapula", "back", 0.425, 0.188),
    _loc("supraspinatus.medial", "upper_back", "supraspinatus", "Supraspinatus (medial)",
         "supraspinous fossa, above the medial part of the scapular spine", "back", 0.415, 0.200),
    _loc("infraspinatus.1", "upper_back", "infraspinatus", "Infraspinatus TrP1 (upper)",
         "just below the middle of the scapular spine", "back", 0.400, 0.225),
    _loc("infraspinatus.2", "upper_back", "infraspinatus", "Infraspinatus TrP2 (lateral)",
         "below the spine, lateral, toward the axillary border", "back", 0.370, 0.238),
    _loc("infraspinatus.3", "upper_back", "infraspinatus", "Infraspinatus TrP3 (lower medial)",
         "near the medial border, midway down the scapula", "back", 0.415, 0.255),
    _loc("rhomboids.upper", "upper_back", "rhomboids", "Rhomboid (upper)",
         "along the medial border of the scapula, level of the spine of the scapula", "back", 0.462, 0.228),
    _loc("rhomboids.lower", "upper_back", "rhomboids", "Rhomboid (lower)",
         "along the medial border of the scapula, above the inferior angle", "back", 0.458, 0.262),
    _loc("suboccipitals", "neck", "suboccipitals", "Suboccipitals",
         "below the occiput, between the mastoid and the midline", "back", 0.475, 0.118, "suboccipital"),
    _loc("splenius_capitis", "neck", "splenius capitis", "Splenius capitis",
         "over the muscle near C2, below the mastoid", "back", 0.462, 0.132),
    # --- lower back and hip (back view) --------------------------------------------------------
    _loc("quadratus_lumborum.upper", "lower_back", "quadratus lumborum", "Quadratus lumborum (upper, superficial)",
         "lateral border below the 12th rib", "back", 0.425, 0.385),
    _loc("quadratus_lumborum.lower", "lower_back", "quadratus lumborum", "Quadratus lumborum (lower, superficial)",
         "just above the iliac crest, lateral to the erector spinae", "back", 0.428, 0.425),
    _loc("iliocostalis_lumborum", "lower_back", "iliocostalis lumborum", "Iliocostalis lumborum",
         "lateral erector spinae at L1 level", "back", 0.450, 0.400),
    _loc("gluteus_medius.1", "hip", "gluteus medius", "Gluteus medius TrP1 (posterior)",
         "below the iliac crest near the sacroiliac joint", "back", 0.445, 0.462),
    _loc("gluteus_medius.2", "hip", "gluteus medius", "Gluteus medius TrP2 (middle)",
         "below the middle of the iliac crest", "back", 0.405, 0.458),
    _loc("gluteus_medius.3", "hip", "gluteus medius", "Gluteus medius TrP3 (anterior)",
         "below the crest, near the anterior superior iliac spine", "back", 0.372, 0.468),
    _loc("gluteus_maximus.1", "hip", "gluteus maximus", "Gluteus maximus TrP1",
         "beside the sacrum, at the lower sacroiliac joint", "back", 0.462, 0.500),
    _loc("piriformis.lateral", "hip", "piriformis", "Piriformis (lateral)",
         "two-thirds of the way along the line from the sacrum to the greater trochanter", "back", 0.400, 0.512),
    _loc("piriformis.medial", "hip", "piriformis", "Piriformis (medial)",
         "near the lateral edge of the sacrum on the same line", "back", 0.440, 0.505),
    # --- leg (back view) ------------------------------------------------------------------------
    _loc("hamstrings.biceps_femoris", "thigh", "hamstrings", "Biceps femoris",
         "lateral posterior thigh, lower half", "back", 0.405, 0.625),
    _loc("hamstrings.semitendinosus", "thigh", "hamstrings", "Semitendinosus / semimembranosus",
         "medial posterior thigh, lower half", "back", 0.455, 0.625),
    _loc("gastrocnemius.1", "lower_leg", "gastrocnemius", "Gastrocnemius TrP1 (medial head)",
         "medial head, proximal to mid-belly", "back", 0.458, 0.745),
    _loc("gastrocnemius.2", "lower_leg", "gastrocnemius", "Gastrocnemius TrP2 (lateral head)",
         "lateral head, proximal to mid-belly", "back", 0.418, 0.752),
    _loc("gastrocnemius.3", "knee", "gastrocnemius", "Gastrocnemius TrP3 (medial, behind the knee)",
         "posterior knee, medial head near its attachment", "back", 0.455, 0.700, "popliteal_fossa"),
    _loc("gastrocnemius.4", "knee", "gastrocnemius", "Gastrocnemius TrP4 (lateral, behind the knee)",
         "posterior knee, lateral head near its attachment", "back", 0.420, 0.702, "popliteal_fossa"),
    _loc("soleus.1", "lower_leg", "soleus", "Soleus TrP1",
         "a few cm above the heel, beside the Achilles tendon", "back", 0.445, 0.865),
    _loc("soleus.2", "lower_leg", "soleus", "Soleus TrP2 (high)",
         "below the head of the fibula", "back", 0.422, 0.790),
    # --- front view -----------------------------------------------------------------------------
    _loc("sternocleidomastoid.sternal", "neck", "sternocleidomastoid", "Sternocleidomastoid (sternal division)",
         "along the sternal division, mid-belly", "front", 0.530, 0.150, "anterior_neck"),
    _loc("sternocleidomastoid.clavicular", "neck", "sternocleidomastoid", "Sternocleidomastoid (clavicular division)",
         "clavicular division, lower third", "front", 0.548, 0.162, "anterior_neck"),
    _loc("sternocleidomastoid.upper", "neck", "sternocleidomastoid", "Sternocleidomastoid (upper, near mastoid)",
         "upper third, below the mastoid", "front", 0.540, 0.130, "anterior_neck"),
    _loc("scalenes", "neck", "scalenes", "Scalenes", "lateral neck above the clavicle, behind the SCM",
         "front", 0.560, 0.158, "posterior_triangle"),
    _loc("masseter", "head", "masseter", "Masseter", "mid-belly of the masseter, over the jaw angle",
         "front", 0.540, 0.095),
    _loc("temporalis", "head", "temporalis", "Temporalis", "above the zygomatic arch, anterior fibres",
         "front", 0.555, 0.060),
    _loc("pectoralis_major.clavicular", "chest", "pectoralis major", "Pectoralis major (clavicular)",
         "below the clavicle, clavicular section", "front", 0.585, 0.200),
    _loc("pectoralis_major.sternal", "chest", "pectoralis major", "Pectoralis major (sternal)",
         "sternal section, mid-chest", "front", 0.565, 0.235),
    _loc("subscapularis", "axilla", "subscapularis", "Subscapularis (through the axilla)",
         "anterior surface of the scapula, reached from the axilla with the arm abducted", "front", 0.640, 0.250,
         "axilla"),
    _loc("rectus_abdominis", "abdomen", "rectus abdominis", "Rectus abdominis (periumbilical)",
         "lateral border of the rectus, beside the umbilicus", "front", 0.535, 0.380, "abdomen"),
    _loc("iliopsoas.distal", "groin", "iliopsoas", "Iliopsoas (femoral triangle)",
         "lateral wall of the femoral triangle, lateral to the femoral artery's pulse", "front", 0.565, 0.515,
         "femoral_triangle"),
    _loc("tensor_fasciae_latae", "hip", "tensor fasciae latae", "Tensor fasciae latae",
         "anterolateral hip, below the anterior superior iliac spine", "front", 0.625, 0.495),
    _loc("rectus_femoris", "thigh", "rectus femoris", "Rectus femoris", "anterior thigh just below the hip",
         "front", 0.580, 0.545),
    _loc("vastus_medialis", "thigh", "vastus medialis", "Vastus medialis", "medial thigh above the knee",
         "front", 0.540, 0.655),
    _loc("vastus_lateralis", "thigh", "vastus lateralis", "Vastus lateralis", "lateral thigh, mid to lower third",
         "front", 0.615, 0.620),
    _loc("tibialis_anterior", "lower_leg", "tibialis anterior", "Tibialis anterior", "upper third of the shin, lateral to the tibia",
         "front", 0.565, 0.775),
)
# fmt: on

_BY_ID = {loc.id: loc for loc in LOCATIONS}


def location(location_id: str) -> Location:
    """The location called ``location_id``; ValueError naming the muscles otherwise."""
    found = _BY_ID.get(location_id)
    if found is None:
        raise ValueError(f"unknown body-map location {location_id!r}: use one of the ids from "
                         "`pointdose clients points` or 'custom' with a name and a place on the figure")
    return found


def muscles() -> list[str]:
    seen = []
    for loc in LOCATIONS:
        if loc.muscle not in seen:
            seen.append(loc.muscle)
    return seen


def side_of(view: str, x: float) -> str:
    """The patient's side for a point at ``x`` in ``view`` ('mid' on the midline)."""
    if abs(x - 0.5) < 0.012:
        return "mid"
    left_on_viewer_left = view == "back"
    return "L" if (x < 0.5) == left_on_viewer_left else "R"


def placed(view: str | None = None) -> list[tuple[Location, str, float, float]]:
    """Every (location, side, x, y) to draw, optionally of one view."""
    out = []
    for loc in LOCATIONS:
        if view is not None and loc.view != view:
            continue
        for side in SIDES:
            x, y = loc.xy(side)
            out.append((loc, side, x, y))
    return out


def nearest(view: str, x: float, y: float, radius: float = 0.025) -> tuple[Location, str] | None:
    """The location drawn nearest to (x, y) in ``view``, within ``radius`` (in figure widths)."""
    best, best_d = None, radius
    for loc, side, px, py in placed(view):
        d = ((px - x) ** 2 + ((py - y) * ASPECT) ** 2) ** 0.5
        if d <= best_d:
            best, best_d = (loc, side), d
    return best


# The outline drawn for both views (x, y in the view's box): head circle and body polygon.
HEAD = (0.5, 0.072, 0.105)  # centre x, centre y, radius in figure widths
BODY = (
    (0.47, 0.118), (0.47, 0.150), (0.35, 0.172), (0.325, 0.200), (0.305, 0.300), (0.285, 0.400),
    (0.270, 0.500), (0.290, 0.505), (0.320, 0.410), (0.345, 0.300), (0.350, 0.260), (0.355, 0.340),
    (0.360, 0.430), (0.345, 0.500), (0.370, 0.700), (0.395, 0.900), (0.390, 0.965), (0.470, 0.965),
    (0.470, 0.900), (0.480, 0.700), (0.492, 0.560), (0.5, 0.545),
    (0.508, 0.560), (0.520, 0.700), (0.530, 0.900), (0.530, 0.965), (0.610, 0.965), (0.605, 0.900),
    (0.630, 0.700), (0.655, 0.500), (0.640, 0.430), (0.645, 0.340), (0.650, 0.260), (0.655, 0.300),
    (0.680, 0.410), (0.710, 0.505), (0.730, 0.500), (0.715, 0.400), (0.695, 0.300), (0.675, 0.200),
    (0.650, 0.172), (0.53, 0.150), (0.53, 0.118),
)


_SIDE_WORDS = {"l": "L", "lt": "L", "left": "L", "r": "R", "rt": "R", "right": "R"}


def split_side(name: str) -> tuple[str, str]:
    """A free-text point name and the patient's side it names: ``"upper trapezius L"`` →
    ``("upper trapezius", "L")``. The side is a first or last word L/R, lt/rt, left/right (any case,
    optionally in brackets or followed by a dot); without one the side is ``"mid"`` and the name is
    kept as typed (whitespace trimmed)."""
    import re

    text = " ".join((name or "").split())
    m = re.match(r"^[(\[]?(left|right|lt|rt|l|r)[)\]]?\.?[\s,:-]+(.+)$", text, re.IGNORECASE)
    if m and m.group(2).strip():
        return m.group(2).strip(), _SIDE_WORDS[m.group(1).lower()]
    m = re.match(r"^(.+?)[\s,:-]+[(\[]?(left|right|lt|rt|l|r)[)\]]?\.?$", text, re.IGNORECASE)
    if m and m.group(1).strip():
        return m.group(1).strip(), _SIDE_WORDS[m.group(2).lower()]
    return text, "mid"
