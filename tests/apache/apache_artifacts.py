"""The Apache RocketMQ releases the tests run, resolved from Maven Central and cached.

``prepare_artifacts(version)`` resolves a pinned release's server modules (``rocketmq-namesrv``
and ``rocketmq-broker``, plus ``rocketmq-proxy`` for 5.x) with their runtime dependencies with
Maven, and copies the jars into a cache directory outside the repository:
``$XDG_CACHE_HOME/rocketmq-tests/apache-<version>/lib`` (``~/.cache/...`` by default), so a fresh
clone on the same machine reuses them. Maven's own downloads stay in ``~/.m2``. The directory
appears complete or not at all (it is filled under a temporary name and renamed), so an
interrupted download is simply redone, and a cache that lacks a module of the current list
(an older cache without the proxy) is resolved again.

4.x releases also need logback configuration files under ``<rocketmq.home.dir>/conf`` (5.x
ships them inside its jars): ``write_home_conf(version, home)`` writes ours there.

What must stay true: ``SUITE_VERSIONS`` lists every release the test suite starts, and
``scripts/apache_rocketmq.py prepare`` fetches exactly those.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Tuple

#: The Apache RocketMQ release the tests run against: the newest 5.x whose modules all resolve
#: from Maven Central (5.5.1 publishes rocketmq-broker and rocketmq-store, but the broker depends
#: on rocketmq-client, -namesrv, -srvutil, -filter and -auth 5.5.1, which are not published).
APACHE_VERSION = "5.5.0"
#: The last 4.9.x release that resolves from Maven Central (4.9.8's jars are not published).
APACHE4_VERSION = "4.9.7"
#: Every release the test suite starts.
SUITE_VERSIONS = (APACHE_VERSION, APACHE4_VERSION)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def run_version() -> str:
    """The release of this test run: 4.9.x when ROCKETMQ_TEST_BROKER=apache4, else 5.x (also for
    the default run's Apache fixtures and for the proxy)."""
    apache4 = os.environ.get("ROCKETMQ_TEST_BROKER") == "apache4"
    return APACHE4_VERSION if apache4 else APACHE_VERSION


def is_4x(version: str) -> bool:
    return version.split(".")[0] == "4"


def artifacts(version: str = APACHE_VERSION) -> Tuple[str, ...]:
    """The org.apache.rocketmq modules whose runtime classpath is cached for `version`."""
    if is_4x(version):
        return ("rocketmq-namesrv", "rocketmq-broker")
    return ("rocketmq-namesrv", "rocketmq-broker", "rocketmq-proxy")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rocketmq-tests"


def artifact_dir(version: str = APACHE_VERSION) -> Path:
    return cache_root() / f"apache-{version}"


def _pom(version: str) -> str:
    dependencies = "".join(
        "<dependency><groupId>org.apache.rocketmq</groupId>"
        f"<artifactId>{artifact}</artifactId><version>{version}</version></dependency>"
        for artifact in artifacts(version)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">'
        "<modelVersion>4.0.0</modelVersion>"
        "<groupId>rocketmq-tests</groupId><artifactId>apache-rocketmq-runtime</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>"
        f"<dependencies>{dependencies}</dependencies>"
        "</project>\n"
    )


def classpath(version: str = APACHE_VERSION) -> str:
    """The cached jars as a Java classpath; fails when prepare_artifacts() has not run."""
    lib = artifact_dir(version) / "lib"
    jars = sorted(lib.glob("*.jar"))
    if not jars or not _complete(artifact_dir(version), version):
        raise FileNotFoundError(
            f"Apache RocketMQ {version} is not (completely) in {lib}: run "
            "`python3 scripts/apache_rocketmq.py prepare` (scripts/test.sh does)"
        )
    return os.pathsep.join(str(jar) for jar in jars)


def _complete(target: Path, version: str) -> bool:
    """The cache holds a finished download with a jar of every module in artifacts()."""
    try:
        jars = (target / "complete").read_text().split()
    except OSError:
        return False
    return all(f"{artifact}-{version}.jar" in jars for artifact in artifacts(version))


def prepare_artifacts(version: str = APACHE_VERSION, log=print) -> Path:
    """Resolves the release with Maven into the cache (once); returns its lib directory."""
    target = artifact_dir(version)
    lib = target / "lib"
    if _complete(target, version):
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FileNotFoundError("Maven (mvn) is needed to download Apache RocketMQ once")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"apache-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be filling the same cache
        if _complete(target, version):
            return lib
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".apache-{version}-") as tmp:
            staging = Path(tmp)
            (staging / "pom.xml").write_text(_pom(version))
            log(f"resolving Apache RocketMQ {version} from Maven Central into {lib}")
            maven = subprocess.run(
                [
                    mvn,
                    "--batch-mode",
                    "--no-transfer-progress",
                    "-Dstyle.color=never",
                    "-f",
                    str(staging / "pom.xml"),
                    f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging / 'out' / 'lib'}",
                ],
                cwd=staging,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=1800,
            )
            if maven.returncode != 0:
                raise RuntimeError(
                    f"Maven could not resolve Apache RocketMQ {version} "
                    f"(exit {maven.returncode}):\n{maven.stdout[-4000:]}"
                )
            jars = sorted(p.name for p in (staging / "out" / "lib").glob("*.jar"))
            missing = [a for a in artifacts(version) if f"{a}-{version}.jar" not in jars]
            if missing:
                raise RuntimeError(f"Maven resolved no jar for {missing}")
            (staging / "out" / "complete").write_text("\n".join(jars) + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.rename(staging / "out", target)
    return lib


#: One file appender per process, at INFO, under ${user.home}/logs/rocketmqlogs (user.home is the
#: work directory's home): 4.x reads <rocketmq.home.dir>/conf/logback_<name>.xml at start.
_LOGBACK_4X = """<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <appender name="File" class="ch.qos.logback.core.FileAppender">
        <file>${{user.home}}/logs/rocketmqlogs/{name}.log</file>
        <append>true</append>
        <encoder>
            <pattern>%d{{yyy-MM-dd HH:mm:ss,SSS}} %-5level %logger{{0}} - %m%n</pattern>
            <charset>UTF-8</charset>
        </encoder>
    </appender>
    <root level="INFO">
        <appender-ref ref="File"/>
    </root>
</configuration>
"""


def write_home_conf(version: str, home: Path) -> None:
    """The files `version` needs under its rocketmq.home.dir (4.x: logback_*.xml)."""
    if not is_4x(version):
        return
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for name in ("namesrv", "broker", "tools"):
        (conf / f"logback_{name}.xml").write_text(_LOGBACK_4X.format(name=name))
