"""Files shipped with Sereno: the demo region, an example resources file, the starter drills."""

from pathlib import Path

DATA = Path(__file__).parent
DEMO_REGION = DATA / "demo_region.geojson"
STARTER_DRILLS = DATA / "drills.yaml"
