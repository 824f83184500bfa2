"""The load and fault lab: the product in its production shape (gunicorn, Celery workers on the
real queue layout, beat) as real processes against a private database and Redis, with the
third parties faked over loopback. Used by tests/system/bench/test_e2e_load.py and tests/system/chaos/."""
