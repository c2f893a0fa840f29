"""The consultation tests' hospital world and patients, for the tests of links between screens."""

from tests.care.consultation.conftest import make_patients, world  # noqa: F401 (fixtures)
