FROM python:3.11-slim-bookworm
# WeasyPrint needs Pango; gettext compiles the translations.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e .
COPY . .
RUN pip install --no-cache-dir -e .
ENV DJANGO_SETTINGS_MODULE=portal_project.settings PYTHONUNBUFFERED=1
EXPOSE 8000 8001
