# The production image: one image, four roles (web, worker, beat, flower) chosen by command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 app

# pg_dump / pg_restore for `manage.py backup_database` and `restore_database`, of the PostgreSQL
# major version docker-compose.yml runs (a pg_dump older than the server refuses to dump it):
# from the PostgreSQL project's own apt repository. Change both together.
ARG PG_CLIENT_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
         https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && . /etc/os-release \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
         > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time and served by whitenoise from gunicorn.
RUN DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=localhost ENV_FILE= \
      python manage.py collectstatic --noinput \
    && mkdir -p var knowledge_base /backups && chown -R app:app var knowledge_base /backups

USER app
EXPOSE 8000
# project/gunicorn.conf.py: workers, threads, and Prometheus multiprocess files for request metrics.
CMD ["gunicorn", "project.wsgi", "--config", "project/gunicorn.conf.py"]
