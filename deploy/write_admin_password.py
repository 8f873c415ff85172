"""Writes the SimpleAuthManager's password file from AIRFLOW_ADMIN_USER and AIRFLOW_ADMIN_PASSWORD (.env), so the
admin password is the one the operator chose and survives recreating the api-server container. The api-server's
command runs it under umask 077 before `airflow api-server`; airflow-init has already refused an example value."""

import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.write_text(json.dumps({os.environ.get("AIRFLOW_ADMIN_USER") or "admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}))
print(f"write_admin_password: {path} holds the password of {os.environ.get('AIRFLOW_ADMIN_USER') or 'admin'}")
