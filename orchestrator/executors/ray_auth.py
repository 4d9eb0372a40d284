"""Ray's token authentication, set on purpose rather than left to whatever `~/.ray` holds.

Ray 2.60 turns token authentication on for every new cluster and, when no token is set, writes one
to `~/.ray/auth_token`; a node or driver started elsewhere without that file then fails with
"no authentication token was found". So every cluster orch (or its tests) starts gets a fresh token
made here and handed to each node and to the driver through the environment only (RAY_AUTH_MODE,
RAY_AUTH_TOKEN): nothing is written to `~/.ray`, the results or the logs.

For a user's existing cluster orch uses the token the user gives it (RAY_AUTH_TOKEN,
RAY_AUTH_TOKEN_PATH or `~/.ray/auth_token`, Ray's own lookup order) and says how to get one when the
cluster refuses a connection without it.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

MODE_VARIABLE = "RAY_AUTH_MODE"
TOKEN_VARIABLE = "RAY_AUTH_TOKEN"
TOKEN_PATH_VARIABLE = "RAY_AUTH_TOKEN_PATH"
TOKEN_HINT = (
    f"if the cluster uses token authentication, set {TOKEN_VARIABLE} to its token "
    "(`ray get-auth-token` on the head node prints it)"
)


def new_cluster_token() -> str:
    """A random token for one cluster's lifetime (64 hex characters, like Ray's own)."""
    return secrets.token_hex(32)


def token_env(token: str) -> dict[str, str]:
    """What every node and the driver of a cluster orch starts need in their environment."""
    return {MODE_VARIABLE: "token", TOKEN_VARIABLE: token}


def secret_variables() -> tuple[str, ...]:
    """Environment variables a job never needs and must not see (it could print them into its log)."""
    return (TOKEN_VARIABLE,)


@dataclass(frozen=True)
class TokenSource:
    """Where this process's Ray token comes from when it connects to an existing cluster."""

    where: str | None  # "RAY_AUTH_TOKEN", a file path, or None when no token is set

    @property
    def describe(self) -> str:
        return f"token from {self.where}" if self.where else "no token set"


def user_token_source() -> TokenSource:
    """The token a user gave for their cluster, in Ray's lookup order."""
    if os.environ.get(TOKEN_VARIABLE, "").strip():
        return TokenSource(TOKEN_VARIABLE)
    for path in (os.environ.get(TOKEN_PATH_VARIABLE), str(Path.home() / ".ray" / "auth_token")):
        if path and Path(path).is_file() and Path(path).read_text(errors="replace").strip():
            return TokenSource(path)
    return TokenSource(None)


def use_token_for_local_cluster() -> None:
    """Before `ray.init(address="local")`: the cluster it starts inherits a token made for it alone."""
    os.environ.update(token_env(new_cluster_token()))


def use_token_for_existing_cluster() -> TokenSource:
    """Before connecting to a user's cluster: turn token mode on when the user gave a token.

    Ray's driver sends its token only in token mode; a user who set RAY_AUTH_TOKEN but not
    RAY_AUTH_MODE would otherwise get a bare "failed to connect" after a 20 s wait.
    """
    source = user_token_source()
    if source.where and MODE_VARIABLE not in os.environ:
        os.environ[MODE_VARIABLE] = "token"
    return source


def token_auth_state() -> str:
    """For `orch doctor`: whether this connection used token authentication."""
    mode = os.environ.get(MODE_VARIABLE, "").lower()
    if mode == "token":
        return f"token auth on ({user_token_source().describe})"
    return f"token auth off ({MODE_VARIABLE}={mode or 'unset'})"


def is_auth_failure(exc: BaseException) -> bool:
    """Ray's AuthenticationError, or its error text naming a missing or rejected token."""
    text = str(exc).lower()
    return type(exc).__name__ == "AuthenticationError" or "authentication token" in text or "unauthenticated" in text
