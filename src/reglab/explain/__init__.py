"""Why a network predicts what it predicts, and whether a technique changes it (issue 27):
attributions through Captum (attributions.py), their sanity checks (sanity.py), and a run
directory's stored maps with their comparison across techniques and seeds (stored_maps.py).
Torch side: `reglab explain` and `StudyResult.explain` import it; the report reads only what it
stored (explanations.json)."""
