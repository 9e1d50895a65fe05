# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VAR_DIR=/app/var
WORKDIR /app

COPY pyproject.toml constraints.txt ./
COPY clinic/ clinic/
COPY clients/ clients/
COPY treatments/ treatments/
RUN pip install --no-cache-dir -c constraints.txt .

COPY . .
# collectstatic needs settings but no secrets or database: a build-time key only.
RUN SECRET_KEY=build-only-collectstatic DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 10001 clinic && mkdir -p /app/var && chown -R clinic /app/var
USER clinic

EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
