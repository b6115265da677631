"""Review of scheduled re-benchmarks: what moved beyond noise between runs, which software changed and
which machines are stale. `compare` holds the rules, `findings` what a review finds; `costperf review`
prints a review and the report's review page (report/review.py) shows it. Nothing here reads files,
prints or imports torch."""

from collectors.review.compare import (  # noqa: F401 - the review's public names
    LOWER_IS_BETTER_UNITS,
    MAD_TO_SIGMA,
    SOFTWARE_FIELDS,
    compare,
    higher_is_better,
    history,
    params_label,
    physics_flags,
    point_of,
    review,
    review_track,
    series_key,
    series_points,
    software_changes,
    staleness,
    tracks_of,
)
from collectors.review.findings import (  # noqa: F401
    DEFAULT_FLOOR,
    DEFAULT_K,
    DEFAULT_STALE_DAYS,
    DEFAULT_WINDOW,
    FAILED_STATUSES,
    Comparison,
    PhysicsFlag,
    Point,
    Review,
    SeriesReview,
    Settings,
    SoftwareChange,
    Staleness,
    TrackReview,
    Verdict,
    WorkloadChange,
)
