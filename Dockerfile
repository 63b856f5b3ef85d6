# ProductGraph production image: gunicorn (web), Celery worker and beat share it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8080

WORKDIR /app

# Dependencies first, read from pyproject.toml, so that a code change reuses this layer.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself, installed in place: one copy of the code, the one in /app.
COPY . .
RUN pip install --no-deps -e . \
    && useradd --system --create-home --home-dir /home/productgraph --shell /usr/sbin/nologin productgraph

# Static files for the admin, served by WhiteNoise. The URLs are set so that loading the
# settings does not start the embedded PostgreSQL and Redis; nothing connects to them.
RUN SECRET_KEY=collectstatic-only \
    DATABASE_URL=postgres://productgraph_app:unused@localhost:5432/productgraph \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R productgraph:productgraph /app/.data

USER productgraph

EXPOSE 8080

CMD ["sh", "-c", "exec gunicorn productgraph.wsgi --config python:config.gunicorn --bind 0.0.0.0:${PORT} --workers 2 --access-logfile - --graceful-timeout 10"]
