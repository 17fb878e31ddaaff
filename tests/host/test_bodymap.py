"""The body map: the muscles the issue names, both sides, cautions where the domain notes put them."""

import pytest

from pointdose import bodymap

NAMED = ["upper trapezius", "levator scapulae", "infraspinatus", "rhomboids", "sternocleidomastoid",
         "suboccipitals", "quadratus lumborum", "gluteus medius", "piriformis", "gastrocnemius"]


def test_named_muscles_present_several_per_muscle_where_described():
    muscles = bodymap.muscles()
    for m in NAMED:
        assert m in muscles, m
    count = {m: sum(1 for loc in bodymap.LOCATIONS if loc.muscle == m) for m in NAMED}
    for m in ("upper trapezius", "levator scapulae", "infraspinatus", "rhomboids", "sternocleidomastoid",
              "quadratus lumborum", "gluteus medius", "piriformis", "gastrocnemius"):
        assert count[m] >= 2, m
    assert len(muscles) > len(NAMED)  # and others


def test_ids_unique_and_coordinates_inside_the_figure():
    ids = [loc.id for loc in bodymap.LOCATIONS]
    assert len(ids) == len(set(ids))
    for loc, side, x, y in bodymap.placed():
        assert 0.0 < x < 1.0 and 0.0 < y < 1.0
        assert loc.view in ("front", "back")


def test_mirroring_and_sides():
    loc = bodymap.location("upper_trapezius.1")
    (xl, yl), (xr, yr) = loc.xy("L"), loc.xy("R")
    assert xl == pytest.approx(1 - xr) and yl == yr
    # back view: patient's left on the viewer's left; front view: on the viewer's right
    assert bodymap.side_of("back", xl) == "L" and bodymap.side_of("back", xr) == "R"
    scm = bodymap.location("sternocleidomastoid.sternal")
    assert bodymap.side_of("front", scm.xy("L")[0]) == "L"
    assert bodymap.side_of("back", 0.5) == "mid"


def test_cautions_are_properties_of_the_locations_with_one_key_spelling():
    from pointdose.protocols.cautions import REGIONS

    by_muscle: dict[str, set] = {}
    for loc in bodymap.LOCATIONS:
        by_muscle.setdefault(loc.muscle, set()).update(loc.cautions)
        assert loc.part in bodymap.PARTS
        for key in loc.cautions:
            assert key in REGIONS and "-" not in key  # the one table, the one spelling
    assert by_muscle["sternocleidomastoid"] == {"anterior_neck"}
    assert by_muscle["scalenes"] == {"posterior_triangle"}
    assert by_muscle["suboccipitals"] == {"suboccipital"}
    assert by_muscle["gastrocnemius"] == {"popliteal_fossa"}  # TrP3/4 behind the knee; TrP1/2 none
    assert by_muscle["subscapularis"] == {"axilla"} and by_muscle["iliopsoas"] == {"femoral_triangle"}
    assert by_muscle["rectus abdominis"] == {"abdomen"}
    assert {c for cs in by_muscle.values() for c in cs} == set(REGIONS)  # every region caution is on the map
    assert "carotid" in bodymap.location("sternocleidomastoid.upper").caution_text()
    assert bodymap.location("upper_trapezius.1").caution is None
    legs = {loc.id for loc in bodymap.LOCATIONS if loc.lower_limb}
    assert {"gastrocnemius.1", "soleus.1", "gastrocnemius.3", "vastus_medialis", "iliopsoas.distal"} <= legs
    assert not {"gluteus_medius.1", "upper_trapezius.1", "rectus_abdominis"} & legs


def test_nearest_picks_the_drawn_point_and_nothing_far_away():
    loc = bodymap.location("infraspinatus.2")
    x, y = loc.xy("R")
    found = bodymap.nearest("back", x + 0.003, y + 0.002)
    assert found == (loc, "R")
    assert bodymap.nearest("back", 0.05, 0.95) is None
    assert bodymap.nearest("front", x, y) is None or bodymap.nearest("front", x, y)[0].view == "front"


def test_unknown_location_says_what_to_use():
    with pytest.raises(ValueError, match="unknown body-map location.*custom"):
        bodymap.location("elbow")
