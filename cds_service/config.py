"""Settings from environment variables (prefix ``KETAMINE_CDS_``) or a TOML file.

Every operational limit lives here, so that operators tune it in one place. Clinical
thresholds join this module with the clinical engine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from cds_service.clinical.settings import ClinicalSettings
from cds_service.settings_errors import SettingsFileError

__all__ = ["SUPPORTED_ALGORITHMS", "Settings", "SmartClient", "TrustedIssuer"]

SUPPORTED_ALGORITHMS = {"ES384", "RS384", "ES256", "RS256", "PS384"}


DEFAULT_BIND = "127.0.0.1:8080"  # gunicorn_conf.py reads the same default
# Where the development flag allows plain http: FHIR callbacks and trusted issuers' key sets.
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
NO_ISSUERS_ADVICE = (
    "For local development, `make run` serves with authentication off, and "
    "KETAMINE_CDS_AUTH_ENABLED=true KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX=true make run checks "
    "the CDS Hooks Sandbox's tokens; in production, list each EHR in "
    "KETAMINE_CDS_TRUSTED_ISSUERS (README, Security)"
)

# The CDS Hooks Sandbox signs every call as this issuer with one ES384 key. Its public key set is
# shipped, from the Sandbox repository's build/.well-known/jwks.json (cds-hooks/sandbox), so that
# trusting the Sandbox needs no network. Its private key is published in the same repository.
SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_JWKS = Path(str(files("cds_service.knowledge") / "trust" / "cds-hooks-sandbox.jwks.json"))


class TrustedIssuer(BaseModel):
    """An EHR allowed to call: its ``iss``, the JWKS URLs its tokens may name in ``jku``, and/or
    a JWKS file exchanged out of band; optionally the ``tenant`` values it may send."""

    model_config = ConfigDict(extra="forbid")

    iss: str = Field(min_length=1, max_length=255)  # the audit and replay columns hold 255
    jku: list[str] = Field(default_factory=list)
    jwks_file: Path | None = None
    tenants: list[str] = Field(default_factory=list)
    fhir_servers: list[str] = Field(
        default_factory=list, description="FHIR base URLs this EHR's calls may ask us to read."
    )

    @model_validator(mode="after")
    def _has_keys(self) -> TrustedIssuer:
        if not self.jku and self.jwks_file is None:
            raise ValueError(f"trusted issuer {self.iss} needs a jku URL or a jwks_file")
        if self.jwks_file is not None and not self.jwks_file.is_file():
            raise ValueError(f"trusted issuer {self.iss}: jwks_file {self.jwks_file} is not a file")
        return self


class SmartClient(BaseModel):
    """This service's registration, as a SMART app, with one FHIR server's authorization
    server: a public client has only a ``client_id``; a confidential one a secret too."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr | None = None


# A CSP frame-ancestors source: an origin (a leading "*." for subdomains), or 'self'. Nothing
# that could end the directive or add another.
FRAME_ANCESTOR = re.compile(r"^(https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?|'self')$")
SESSION_KEY_HELP = (
    "generate one with: python3 -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)

CONFIG_FILE_ENV = "KETAMINE_CDS_CONFIG_FILE"


class Settings(BaseSettings):
    """Service settings. Tests pass their own; ``make run`` relies on the defaults."""

    model_config = SettingsConfigDict(
        env_prefix="KETAMINE_CDS_",
        extra="forbid",
        validate_default=True,
        env_nested_delimiter="__",
        hide_input_in_errors=True,  # an error must not print a secret, such as the audit salt
    )

    data_dir: Path = Field(default=Path("data"), description="Directory for the SQLite file.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KETAMINE_CDS_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="SQLAlchemy URL; default is a SQLite file in data_dir.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=["*"],
        description='Allowed browser origins. "*" suits local development only; '
        "production lists the EHR and Sandbox origins.",
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_prefetch_keys: int = Field(default=50, gt=0, description="Prefetch keys per hook call.")
    max_bundle_entries: int = Field(default=5000, gt=0, description="Entries per prefetch Bundle.")
    max_draft_orders: int = Field(
        default=50,
        gt=0,
        description="Draft orders per order-select or order-sign call; each can add cards.",
    )
    max_cards: int = Field(
        default=20,
        ge=2,
        description="Cards per response. Over it, the most urgent are kept and one more card "
        "says how many were left out.",
    )

    fhir_connect_timeout_s: float = Field(default=0.2, gt=0)
    fhir_read_timeout_s: float = Field(default=0.3, gt=0)
    fhir_budget_s: float = Field(
        default=0.4, gt=0, description="Total wall time for all FHIR callbacks of one hook call."
    )
    fhir_max_pages: int = Field(default=10, ge=1, description="Pages followed per search.")
    fhir_max_response_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    fhir_max_parallel: int = Field(default=4, ge=1)
    fhir_server_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="FHIR base URLs any caller may ask us to read, comma-separated; each "
        "trusted issuer can add its own. Empty: no callbacks unless an issuer lists one.",
    )
    fhir_allow_http_loopback: bool = Field(
        default=False,
        description="Development: allow http FHIR callbacks, and http trusted-issuer key sets "
        "(jku), to localhost.",
    )

    clinical: ClinicalSettings = Field(
        default_factory=ClinicalSettings,
        description="Clinical thresholds: KETAMINE_CDS_CLINICAL__BP_WINDOW_DAYS=14, ...",
    )
    knowledge_extra_dir: Path | None = Field(
        default=None, description="A site directory of extra value sets and product codes."
    )

    auth_enabled: bool = Field(
        default=True, description="Verify the CDS Hooks JWT of calling EHRs (spec §8)."
    )
    bind: str = Field(
        default=DEFAULT_BIND,
        pattern=r"^.+:[0-9]{1,5}$",
        description="host:port gunicorn listens on (`ketamine-cds serve --bind` too). Cards "
        "link to the patient handouts here when no public base URL is set.",
    )
    behind_buffering_proxy: bool = Field(
        default=False,
        description="A proxy in front buffers whole requests, so slow clients cannot hold a "
        "worker; without it, binding a non-loopback address logs a warning at start.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="This service's public base URL, or several, comma-separated (the first is "
        "where cards link); a token's aud must be one of them plus the request path. Required "
        "when trusted issuers are configured.",
    )
    trust_cds_hooks_sandbox: bool = Field(
        default=False,
        description="Development: trust tokens the CDS Hooks Sandbox signs, with its shipped "
        "key set. Allowed only while every public base URL is loopback.",
    )
    trusted_issuers: list[TrustedIssuer] = Field(
        default_factory=list, description="EHRs allowed to call: iss, jku allowlist, JWKS file."
    )
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["ES384", "RS384"])
    jwt_leeway_s: int = Field(default=60, ge=0, le=600)
    jwt_max_lifetime_s: int = Field(
        default=3600,
        gt=0,
        le=86400,
        description="The longest a token may live: exp at most this long after iat, and "
        "after now. The Sandbox issues 5 minutes, EHRs about 15.",
    )
    jwks_refresh_interval_s: float = Field(
        default=60, ge=0, description="At most one JWKS refetch per source in this interval."
    )
    jwks_fetch_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds for each connect and read of a JWKS fetch, and for its whole body.",
    )

    audit_salt: SecretStr | None = Field(
        default=None,
        description="Salt for hashing patient ids in the audit trail; default: a random one "
        "created once in data_dir. Set it when several hosts share one database.",
    )

    smart_clients: dict[str, SmartClient] = Field(
        default_factory=dict,
        description="The TRD and course view (a SMART app): JSON mapping each FHIR base URL "
        'to this service\'s registration there, {"client_id": ...} plus "client_secret" for a '
        "confidential client. Unset: no view, and cards carry no SMART link.",
    )
    smart_session_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts the view's tokens at rest. Required with "
        "authentication on; under `make run` one is generated in data_dir.",
    )
    smart_session_idle_s: int = Field(
        default=1800, ge=60, le=86400, description="A view session ends after this idle time."
    )
    smart_launch_ttl_s: int = Field(
        default=300, ge=30, le=3600, description="Time from launch to the authorization callback."
    )
    smart_fhir_budget_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Wall time for reading a whole chart for the view; give its workers threads "
        "(KETAMINE_CDS_THREADS) so a slow chart does not hold up hook calls.",
    )
    smart_frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="EHR origins that may show the view in a frame (CSP frame-ancestors), "
        "comma-separated. Empty: only this service's own pages.",
    )

    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")

    @field_validator(
        "cors_origins", "fhir_server_allowlist", "smart_frame_ancestors", mode="before"
    )
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """Accept a comma-separated list or a JSON array."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("smart_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: list[str]) -> list[str]:
        refused = [source for source in value if not FRAME_ANCESTOR.fullmatch(source)]
        if refused:
            raise ValueError(
                f"smart_frame_ancestors: {refused[0][:80]!r} is not an origin such as "
                "https://ehr.example.org (or 'self')"
            )
        return value

    @field_validator("smart_clients")
    @classmethod
    def _smart_servers(cls, value: dict[str, SmartClient]) -> dict[str, SmartClient]:
        normalised = {}
        for url, client in value.items():
            scheme, host = scheme_and_host(url)
            if scheme not in ("http", "https") or not host or "?" in url or "#" in url:
                raise ValueError(f"smart_clients: {url[:80]!r} is not a FHIR base URL")
            normalised[url.rstrip("/")] = client
        return normalised

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        """Never none or HMAC (spec J-11); only the asymmetric algorithms verified here."""
        unsupported = [a for a in value if a not in SUPPORTED_ALGORITHMS]
        if unsupported or not value:
            raise ValueError(
                f"jwt_algorithms must be chosen from {sorted(SUPPORTED_ALGORITHMS)}; "
                f"refused: {unsupported or 'an empty list'}"
            )
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_urls(cls, value: str | None) -> str | None:
        if value is None:
            return None
        urls = [part.strip() for part in value.split(",") if part.strip()]
        for url in urls:
            scheme, host = scheme_and_host(url)
            if scheme not in ("http", "https") or not host or "?" in url or "#" in url:
                raise ValueError(
                    f"public_base_url: {url!r} is not an http or https base URL (no query or "
                    "fragment)"
                )
        return ",".join(urls) or None

    @model_validator(mode="after")
    def _trust_the_sandbox(self) -> Settings:
        """Anyone can sign as the Sandbox, since its private key is public: so only a service
        that other hosts cannot call may trust it. Without a public base URL, both loopback
        spellings of the bind address are the audiences."""
        if not self.trust_cds_hooks_sandbox:
            return self
        host, _, port = self.bind.rpartition(":")
        if not self.public_base_url:
            spellings = ["localhost", "127.0.0.1"] + (["[::1]"] if "::1" in host else [])
            self.public_base_url = ",".join(f"http://{name}:{port}" for name in spellings)
        exposed = [url for url in self.public_base_urls if not is_loopback_url(url)]
        if not is_loopback_bind(self.bind) or self.behind_buffering_proxy:
            exposed.insert(0, f"the bind address {self.bind}")
        if exposed:
            raise ValueError(
                "trust_cds_hooks_sandbox (KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX) needs the "
                "service on loopback only (its bind address and every public base URL, and no "
                f"proxy in front), and {', '.join(exposed)} is not: the Sandbox's private key "
                "is published in its repository, so anyone who can reach the service could "
                "sign as the Sandbox. Where other hosts can call it, and only where it sees no "
                "real patient data, configure the Sandbox issuer explicitly in "
                "KETAMINE_CDS_TRUSTED_ISSUERS (README, Security)"
            )
        if all(issuer.iss != SANDBOX_ISSUER for issuer in self.trusted_issuers):
            self.trusted_issuers.append(TrustedIssuer(iss=SANDBOX_ISSUER, jwks_file=SANDBOX_JWKS))
        return self

    @model_validator(mode="after")
    def _audience_is_configured(self) -> Settings:
        """Without it the audience would come from the caller's Host header (spec J-08)."""
        if self.auth_enabled and self.trusted_issuers and not self.public_base_url:
            raise ValueError(
                "public_base_url (KETAMINE_CDS_PUBLIC_BASE_URL) is required when trusted "
                "issuers are configured: a token's aud is checked against it"
            )
        return self

    @model_validator(mode="after")
    def _key_sets_over_https(self) -> Settings:
        """A key set fetched over http can be swapped in transit, and with it the key every
        token of that issuer is checked against."""
        for issuer in self.trusted_issuers:
            for url in issuer.jku:
                scheme, host = scheme_and_host(url)
                if scheme == "https" and host:
                    continue
                if scheme == "http" and host in LOOPBACK_HOSTS and self.fhir_allow_http_loopback:
                    continue
                raise ValueError(
                    f"trusted issuer {issuer.iss}: jku {url} must be an https URL; a key set "
                    "fetched over http can be replaced in transit. Only for a key set on this "
                    "machine in development, http://localhost is allowed with "
                    "KETAMINE_CDS_FHIR_ALLOW_HTTP_LOOPBACK=true"
                )
        return self

    @model_validator(mode="after")
    def _smart_app(self) -> Settings:
        """The view's cookie and redirect URI follow the first public base URL, so it must be
        https except on this machine; its tokens at rest need a key the operator keeps."""
        if not self.smart_clients:
            return self
        scheme, host = scheme_and_host(self.links_base_url())
        if scheme != "https" and not _is_loopback_host(host):
            raise ValueError(
                "smart_clients (KETAMINE_CDS_SMART_CLIENTS) needs an https public base URL "
                "(KETAMINE_CDS_PUBLIC_BASE_URL): the authorization server redirects the browser, "
                "with its code, to it. Plain http is allowed only on this machine"
            )
        for url in self.smart_clients:
            scheme, host = scheme_and_host(url)
            if scheme != "https" and not (host in LOOPBACK_HOSTS and self.fhir_allow_http_loopback):
                raise ValueError(
                    f"smart_clients: {url} must be an https URL; plain http to this machine "
                    "needs KETAMINE_CDS_FHIR_ALLOW_HTTP_LOOPBACK=true"
                )
        key = self.smart_session_key
        if key is None and self.auth_enabled:
            raise ValueError(
                "smart_session_key (KETAMINE_CDS_SMART_SESSION_KEY) is required for the SMART "
                f"view when authentication is on: it encrypts the view's tokens at rest; "
                f"{SESSION_KEY_HELP}"
            )
        if key is not None:
            from cryptography.fernet import Fernet

            try:
                Fernet(key.get_secret_value())
            except ValueError:
                raise ValueError(
                    "smart_session_key (KETAMINE_CDS_SMART_SESSION_KEY) is not a Fernet key "
                    f"(32 bytes, url-safe base64); {SESSION_KEY_HELP}"
                ) from None
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir.resolve() / 'ketamine-cds.sqlite3'}"
        return self

    def slow_client_exposure(self) -> str | None:
        """Why slow clients could stall this service, or None: it listens on loopback only, or
        a proxy in front buffers whole requests."""
        if self.behind_buffering_proxy or is_loopback_bind(self.bind):
            return None
        return (
            f"binding {self.bind}, which other hosts can reach: each worker reads a request's "
            "body itself, so a client that sends slowly holds a worker until "
            "KETAMINE_CDS_TIMEOUT, and a few such clients stall the service. Serve behind a "
            "proxy that buffers whole requests (nginx: proxy_request_buffering on, its "
            "default), then set KETAMINE_CDS_BEHIND_BUFFERING_PROXY=true (docs/deployment.md)"
        )

    @property
    def public_base_urls(self) -> list[str]:
        """The public base URLs, without trailing slashes; empty when none is set."""
        return [url.rstrip("/") for url in (self.public_base_url or "").split(",") if url]

    def links_base_url(self) -> str:
        """Where cards link to this service (the patient handouts): the first public base URL,
        or under ``make run`` the bind address. Never the request's Host header, which a caller
        sets."""
        if self.public_base_urls:
            return self.public_base_urls[0]
        host, _, port = self.bind.rpartition(":")
        if host in ("", "0.0.0.0", "::", "[::]"):
            host = "localhost"
        return f"http://{host}:{port}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: explicit arguments, then env vars, then the TOML file, if one is named."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise SettingsFileError(
                    f"{CONFIG_FILE_ENV}={config_file} does not name a readable file"
                )
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def scheme_and_host(url: str) -> tuple[str, str]:
    """A URL's scheme and host as the HTTP client will read them (urllib3 and urlsplit disagree
    on ``http://a\\@localhost``); ("", "") for one with user info or characters a URL cannot
    hold, which no key-set URL needs."""
    if any(ch in url for ch in "\\@ \t\r\n"):
        return "", ""
    try:
        parts = parse_url(url)
    except LocationParseError:
        return "", ""
    return (parts.scheme or "").lower(), (parts.host or "").lower().strip("[]")


def is_loopback_url(url: str) -> bool:
    return _is_loopback_host(scheme_and_host(url)[1])


def _is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_bind(bind: str) -> bool:
    """True when ``host:port`` listens on loopback only (0.0.0.0 and :: listen everywhere)."""
    return _is_loopback_host(bind.rpartition(":")[0].strip("[]"))
