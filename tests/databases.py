"""Fresh test databases on the local engines, shared by the Python suites.

PostgreSQL and MySQL databases are created on the servers named by FERROFLOW_TEST_POSTGRES_URL /
FERROFLOW_TEST_MYSQL_URL (defaults: the local servers) with a name starting ff_compat_, which
scripts/test.sh drops at exit if a test could not.
"""

import os
import subprocess
import uuid
from urllib.parse import urlsplit

ENGINES = ("sqlite", "postgres", "mysql")


def new_database(engine, sqlite_path):
    """A new, empty database on `engine`: the SQLite file `sqlite_path`, or a new database on
    the PostgreSQL or MySQL server. Returns (SQLAlchemy-style URI, drop) where drop() removes
    the database again."""
    if engine == "sqlite":
        return f"sqlite:///{sqlite_path}", lambda: None
    name = f"ff_compat_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    if engine == "postgres":
        base = os.environ.get("FERROFLOW_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
        parts = urlsplit(base)
        admin = ["psql", "-h", parts.hostname, "-p", str(parts.port or 5432), "-U",
                 parts.username or "postgres", "-d", "postgres", "-q", "-c"]
        uri = f"postgresql://{parts.netloc}/{name}"
    elif engine == "mysql":
        base = os.environ.get("FERROFLOW_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
        parts = urlsplit(base)
        admin = ["mysql", f"-h{parts.hostname}", f"-P{parts.port or 3306}", f"-u{parts.username or 'root'}"]
        if parts.password:
            admin.append(f"-p{parts.password}")
        admin.append("-e")
        uri = f"mysql+pymysql://{parts.netloc}/{name}"
    else:
        raise RuntimeError(f"the database engine must be one of {ENGINES}, not {engine!r}")
    subprocess.run(admin + [f"CREATE DATABASE {name}"], check=True, capture_output=True)

    def drop():
        subprocess.run(admin + [f"DROP DATABASE IF EXISTS {name}"], capture_output=True)

    return uri, drop
