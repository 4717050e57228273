"""The SSH runner's options (``runner: {kind: ssh, ...}``), validated with the spec's paths."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator, model_validator

from hpo.runkit.checkpoints import DEFAULT_LIMIT


def _no_option_injection(value: str | None) -> str | None:
    if value is not None and (value.startswith("-") or any(c.isspace() for c in value) or not value):
        raise ValueError(f"must not be empty, start with '-' or contain spaces: {value!r}")
    return value


class SshHostConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="host name or address, as for ssh (aliases in ~/.ssh/config work)")
    name: str | None = Field(None, description="a label for messages (default user@host:port)")
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = None
    identity_file: str | None = None
    slots: int = Field(1, ge=1, description="trials this host runs at once")
    gpus: list[int | str] | None = Field(
        None, description="GPU devices (default: detected on the host when a trial asks for GPUs)")
    python: str | None = Field(None, description="interpreter for trials; its folder leads PATH")
    workdir: str | None = Field(None, description="where the command runs (default: the same path as here)")
    env: dict[str, str] = Field(default_factory=dict)

    _check_host = field_validator("host", "user")(lambda cls, v: _no_option_injection(v))

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"


class SshConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: list[SshHostConfig] = Field(min_length=1)
    known_hosts: str | None = Field(None, description="known_hosts file (default: ssh's own)")
    strict_host_key_checking: bool | Literal["accept-new"] = Field(
        True, description="false turns host key verification off (explicitly insecure)")
    env_passthrough: list[str] = Field(
        default_factory=list, description="variables passed by name from the engine's environment")
    rundir: str = Field(".hpo/runs", description="remote folder for attempt files (relative: to $HOME)")
    keep_remote_files: bool = False
    grace_period: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")
    poll_interval: float = Field(0.2, ge=0, description="least seconds between polls of one host")
    connect_timeout: float = Field(10.0, gt=0)
    command_timeout: float = Field(
        30.0, gt=0, description="seconds an ssh call (a poll, a launch, a check) may take after "
        "connecting before it gives up and the host counts as unavailable")
    server_alive_interval: float = Field(5.0, gt=0)
    retry_down_after: float = Field(30.0, ge=0, description="seconds before a down host is tried again")
    lost_after: float = Field(300.0, ge=0, description=(
        "seconds a trial lost with its host keeps its slot (it may still run there) unless the "
        "host comes back first and it is killed"))
    copy_checkpoints: bool = Field(True, description=(
        "send the trial's checkpoint folder to the host before it starts and fetch it back after "
        "(false: the hosts share the engine's filesystem, and the trial writes there directly)"))
    checkpoint_limit: ByteSize = Field(ByteSize(DEFAULT_LIMIT), description=(
        "the largest checkpoint folder that travels (bytes, or e.g. 500MiB); a larger one fails its trial"))
    checkpoint_timeout: float = Field(600.0, gt=0, description="seconds one checkpoint transfer may take")
    ssh: str = Field("ssh", description="the OpenSSH client executable")
    ssh_options: dict[str, str] = Field(default_factory=dict, description="extra `-o Key=Value` options")

    @model_validator(mode="after")
    def _unique_labels(self) -> "SshConfig":
        labels = [h.label for h in self.hosts]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"two hosts are called {dupes[0]!r}; give them distinct `name`s")
        return self
