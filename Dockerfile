# The production image: one image, four roles (web, worker, beat, flower) chosen by command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time and served by whitenoise from gunicorn.
RUN DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=localhost ENV_FILE= \
      python manage.py collectstatic --noinput \
    && mkdir -p var knowledge_base && chown -R app:app var knowledge_base

USER app
EXPOSE 8000
# project/gunicorn.conf.py: workers, threads, and Prometheus multiprocess files for request metrics.
CMD ["gunicorn", "project.wsgi", "--config", "project/gunicorn.conf.py"]
