#!/usr/bin/env bash
# Refuses to let the Airflow stack start with an empty, example or short secret. The airflow-init
# service runs it before anything else, and every other Airflow service waits for airflow-init, so a
# copied-but-unedited .env stops the stack instead of serving an API whose tokens anyone can sign.
# It checks the values the containers really get (Airflow's own variables) and names them as .env does.
set -u

status=0

refuse() {
  echo "check-secrets: $1 in .env $2; generate one as .env.example says, then run docker compose up again" >&2
  status=1
  return 1
}

# require CONTAINER_VARIABLE ENV_FILE_NAME MIN_LENGTH: fails (and says why) for empty, example or short values.
require() {
  local value=${!1-} name=$2 min_length=$3
  if [[ -z $value ]]; then
    refuse "$name" "is empty"
  elif [[ ${value,,} == *change-me* ]]; then
    refuse "$name" "is still the example value from .env.example"
  elif (( ${#value} < min_length )); then
    refuse "$name" "is ${#value} characters long, shorter than $min_length"
  fi
}

require AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW_JWT_SECRET 32
require POSTGRES_PASSWORD POSTGRES_PASSWORD 16
require AIRFLOW_ADMIN_PASSWORD AIRFLOW_ADMIN_PASSWORD 12
fernet_key='[A-Za-z0-9_-]{43}='
if require AIRFLOW__CORE__FERNET_KEY AIRFLOW_FERNET_KEY 44 \
    && [[ ! $AIRFLOW__CORE__FERNET_KEY =~ ^$fernet_key(,$fernet_key)*$ ]]; then
  refuse AIRFLOW_FERNET_KEY "is not a Fernet key (32 url-safe base64 bytes; older keys follow after commas)"
fi

if (( status == 0 )); then
  echo "check-secrets: JWT secret, Fernet key, Postgres and admin passwords are set and are not the examples"
fi
exit "$status"
