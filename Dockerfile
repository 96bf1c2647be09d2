FROM python:3.11-slim-bookworm
# WeasyPrint needs Pango; gettext compiles the translations.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The runtime set of uv.lock (exact versions and hashes), without the dev group.
ENV UV_PROJECT_ENVIRONMENT=/usr/local UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --inexact --no-cache
COPY . .
ENV DJANGO_SETTINGS_MODULE=portal_project.settings PYTHONUNBUFFERED=1
# Static files compressed and with hashed names in the image; the app serves them (WhiteNoise).
# The key only lets settings load for this step; the real one comes from the environment.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput -v 0
EXPOSE 8000 8001
