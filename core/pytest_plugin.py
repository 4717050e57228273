"""The pytest plugin of ``hpo.testing`` (entry point ``pytest11``): the conformance kit's asserts
fail with pytest's explanation of both sides, as a test module's own do.

pytest rewrites the asserts of test modules only; a package must ask for its modules before they
are imported, and pytest loads this plugin before it collects any test.
"""

import pytest

pytest.register_assert_rewrite("hpo.testing")
