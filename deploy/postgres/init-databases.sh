#!/usr/bin/env bash
# Creates the application role and one database per SQL service, owned by that role.
# The postgres image runs this once, on an empty data directory (docker-entrypoint-initdb.d);
# later changes to the variables below need a manual ALTER ROLE / CREATE DATABASE.
#   CASEWORK_DB_USER, CASEWORK_DB_PASSWORD  the role the services and relays log in as
#   CASEWORK_DATABASES                      database names, separated by spaces
set -euo pipefail
: "${CASEWORK_DB_USER:?}" "${CASEWORK_DB_PASSWORD:?}" "${CASEWORK_DATABASES:?}"

admin() {
  psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" "$@"
}

# psql variables quote the values (:"ident", :'literal'): no SQL built by string pasting
admin -v role="$CASEWORK_DB_USER" -v password="$CASEWORK_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SQL
for db in $CASEWORK_DATABASES; do
  admin -v db="$db" -v role="$CASEWORK_DB_USER" <<'SQL'
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
SQL
  echo "created database $db owned by $CASEWORK_DB_USER"
done
