"""Data review of the committed data folder: every machine priced in the default (`system`) scenario,
every source on a reviewed list of vendor and publication hosts (or backed by a second source that is),
and every published row on one machine through data/hardware-names.yaml. The same checks must catch
a small, deliberately bad folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from collectors import store
from collectors.hardware_names import unmapped_rows
from collectors.records import Host, Machine, PublishedSet, Sourced
from report.metrics import guess_vendor

DATA = Path(__file__).resolve().parent.parent / "data"

REVIEWED_HOSTS: dict[str, str] = {
    # Vendors: product pages, newsrooms, datasheets, support pages and their own stores.
    "nvidia.com": "NVIDIA", "nvidianews.nvidia.com": "NVIDIA newsroom", "apple.com": "Apple", "amd.com": "AMD",
    "intel.com": "Intel", "frame.work": "Framework", "dell.com": "Dell", "hp.com": "HP", "lenovo.com": "Lenovo",
    "asus.com": "ASUS", "msi.com": "MSI", "razer.com": "Razer", "corsair.com": "Corsair", "gigabyte.com": "Gigabyte",
    "seasonic.com": "Seasonic", "crucial.com": "Crucial", "samsung.com": "Samsung", "noctua.at": "Noctua",
    "fractal-design.com": "Fractal Design", "bequiet.com": "be quiet!", "supermicro.com": "Supermicro",
    "github.com": "repositories: a benchmark's own publication (llama.cpp, MLX), vendor docs, dated price transcripts",
    # Cloud providers' own price pages.
    "aws.amazon.com": "AWS", "cloud.google.com": "Google Cloud", "azure.microsoft.com": "Microsoft Azure",
    "lambda.ai": "Lambda", "lambdalabs.com": "Lambda", "runpod.io": "RunPod", "coreweave.com": "CoreWeave",
    "vast.ai": "vast.ai", "paperspace.com": "Paperspace", "oracle.com": "Oracle Cloud",
    "datacrunch.io": "DataCrunch", "verda.com": "Verda (DataCrunch)", "together.ai": "Together AI",
    "hyperstack.cloud": "Hyperstack", "nebius.com": "Nebius", "fluidstack.io": "Fluidstack",
    # Retailers' listings (a price read where the part is sold).
    "newegg.com": "Newegg", "bestbuy.com": "Best Buy", "bhphotovideo.com": "B&H Photo", "amazon.com": "Amazon",
    "microcenter.com": "Micro Center",
    # Named publications.
    "tomshardware.com": "Tom's Hardware", "anandtech.com": "AnandTech", "techpowerup.com": "TechPowerUp",
    "servethehome.com": "ServeTheHome", "theverge.com": "The Verge", "arstechnica.com": "Ars Technica",
    "notebookcheck.net": "Notebookcheck", "macworld.com": "Macworld", "pcworld.com": "PCWorld",
    "pcgamer.com": "PC Gamer", "pcgamesn.com": "PCGamesN", "techradar.com": "TechRadar", "engadget.com": "Engadget",
    "macrumors.com": "MacRumors", "9to5mac.com": "9to5Mac", "appleinsider.com": "AppleInsider",
    "daringfireball.net": "Daring Fireball", "techspot.com": "TechSpot", "guru3d.com": "Guru3D",
    "tweaktown.com": "TweakTown", "hothardware.com": "HotHardware", "heise.de": "heise", "computerbase.de": "ComputerBase",
    "pcmag.com": "PCMag", "zdnet.com": "ZDNet", "cnet.com": "CNET", "theregister.com": "The Register",
    "nextplatform.com": "The Next Platform", "hpcwire.com": "HPCwire", "storagereview.com": "StorageReview",
    "phoronix.com": "Phoronix", "lowendmac.com": "Low End Mac", "wired.com": "Wired", "digitaltrends.com": "Digital Trends",
    "windowscentral.com": "Windows Central", "laptopmag.com": "Laptop Mag", "kitguru.net": "KitGuru",
    "videocardz.com": "VideoCardz", "semianalysis.com": "SemiAnalysis", "chipsandcheese.com": "Chips and Cheese",
    "tomsguide.com": "Tom's Guide", "pcper.com": "PC Perspective", "fudzilla.net": "Fudzilla",
    "gamereactor.eu": "Gamereactor", "wccftech.com": "Wccftech", "ibtimes.com": "International Business Times",
    "slashgear.com": "SlashGear", "neowin.net": "Neowin", "incpak.com": "Incpak", "gizmodo.com": "Gizmodo",
    "tech4gamers.com": "Tech4Gamers", "cnn.com": "CNN", "sixcolors.com": "Six Colors", "imore.com": "iMore",
    "dpreview.com": "DPReview", "boingboing.net": "Boing Boing", "androidauthority.com": "Android Authority",
    "trustedreviews.com": "Trusted Reviews", "pocketnow.com": "Pocketnow", "itdaily.com": "ITdaily",
}
"""Hosts reviewed as a vendor, a provider's price page, a retailer or a named publication."""


EXACT_HOSTS = {"github.com"}
"""Reviewed only as the host itself: gist.github.com and other subdomains are not a repository's publication."""


def reviewed(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    return any(host == d or (d not in EXACT_HOSTS and host.endswith("." + d)) for d in REVIEWED_HOSTS)


# ---------------------------------------------------------------------------------------------
# The three checks, each a list of one-line problems naming file and field


def unpriced(ds: store.DataSet) -> list[str]:
    """Machines with no price in the `system` scenario: a cloud machine needs an hourly price; a card
    needs a card price and a priced host; anything else a price of the whole system."""
    out = []
    for mid, m in sorted(ds.machines.items()):
        bought = [p for p in m.prices if p.kind in ("purchase", "used")]
        if m.form == "cloud":
            ok = any(p.kind == "cloud_hourly" for p in m.prices)
            why = "a cloud machine needs a cloud_hourly price"
        elif any(p.covers == "system" for p in bought):
            ok, why = True, ""
        elif m.host is not None:
            ok = any(p.covers == "card" for p in bought) and m.host in ds.hosts
            why = f"needs a card price and the priced host {m.host!r} in data/hosts/"
        else:
            ok, why = False, "needs a purchase or used price covering the system (or a card price and a `host`)"
        if not ok:
            out.append(f"data/machines/{mid}.yaml: prices: no price in the system scenario: {why}")
    return out


def _block_problems(where: str, blocks: list[tuple[str, Sourced | None]], urls: dict[str, str]) -> list[str]:
    out = []
    for name, block in blocks:
        if block is None or not block.sources:
            continue
        if not any(reviewed(urls[s]) for s in block.sources if s in urls):
            out.append(f"{where}: {name}.sources: no source on the reviewed list "
                       f"({', '.join(urls.get(s, s) for s in block.sources)})")
    return out


def _machine_sources(path: str, m: Machine) -> list[str]:
    urls = {s.id: s.url for s in m.sources}
    blocks: list[tuple[str, Sourced | None]] = [("usable_memory", m.usable_memory), ("power", m.power)]
    blocks += [(f"accelerators.{i}", a) for i, a in enumerate(m.accelerators)]
    out = _block_problems(path, blocks, urls)
    cited = {s for _, b in blocks if b is not None for s in b.sources}
    # A source no block cites backs a price or a note: it stands alone, so it must be reviewed itself.
    out += [f"{path}: sources.{i}: {s.url} is not on the reviewed list and no figure cites it beside a "
            "reviewed source" for i, s in enumerate(m.sources) if s.id not in cited and not reviewed(s.url)]
    for i, p in enumerate(m.prices):
        if reviewed(p.source_url):
            continue
        twin = any(reviewed(q.source_url) for q in m.prices if q is not p and q.amount == p.amount
                   and q.kind == p.kind and q.covers == p.covers)
        if not twin:
            out.append(f"{path}: prices.{i}.source_url: {p.source_url} is not on the reviewed list and no "
                       "reviewed source gives the same price")
    return out


def _host_sources(path: str, h: Host) -> list[str]:
    urls = {s.id: s.url for s in h.sources}
    out = [f"{path}: parts.{i}.source_url: {p.source_url} is not on the reviewed list"
           for i, p in enumerate(h.parts) if not reviewed(p.source_url)]
    return out + _block_problems(path, [("power", h.power)], urls)


def _published_sources(path: str, ps: PublishedSet) -> list[str]:
    if ps.role == "seed_article":
        return []  # the article under review and the sources it names are the claims, not evidence
    out = [] if reviewed(ps.citation.url) else [f"{path}: citation.url: {ps.citation.url} is not on the reviewed list"]
    return out + [f"{path}: results.{i}.citation.url: {r.citation.url} is not on the reviewed list"
                  for i, r in enumerate(ps.results) if r.citation is not None and not reviewed(r.citation.url)]


def unreviewed_sources(ds: store.DataSet) -> list[str]:
    out = []
    for item in ds.files:
        rel = str(item.path.relative_to(ds.root)) if item.path.is_relative_to(ds.root) else str(item.path)
        rec = item.record
        if isinstance(rec, Machine):
            out += _machine_sources(rel, rec)
        elif isinstance(rec, Host):
            out += _host_sources(rel, rec)
        elif isinstance(rec, PublishedSet):
            out += _published_sources(rel, rec)
    return out


def unmapped(ds: store.DataSet) -> list[str]:
    missing = [] if ds.names is not None else [f"{store.NAMES_FILE}: missing or invalid"]
    return missing + [str(u) for u in unmapped_rows(ds)]


# ---------------------------------------------------------------------------------------------
# The committed data, checked per vendor group (the Apple and the other machines are curated apart)

KNOWN_GAPS: dict[str, str] = {
    "desktop-rtx-3080-ti": "no launch price from a named publication in the stored corpus",
    "rtx-6000-ada": "no dated price: no cited launch price, RunPod's serverless tier is shared and undated",
    "jetson-agx-orin-64gb": "no cited price; only a vendor-partner blog for its specs",
    "laptop-rtx-4090": "no laptop model with a dated price from a named publication found",
    "laptop-rtx-5090": "no laptop model with a dated price from a named publication found; specs from a spec site",
    "workstation-rtx-pro-6000": "600 W and the $8,565 MSRP from specialist sites only (hardware-corner.net, "
    "newgearhub.com); memory and bandwidth are ITdaily's",
    "dgx-spark": "price and specs from aggregator copies; no NVIDIA page or named review in the stored corpus",
    "framework-desktop-strix-halo": "price from an aggregator and a personal review; no dated Framework page read",
    "h100-pcie": "the 350 W TDP is NVIDIA's product brief read on a re-host (manuals.plus)",
    "l40s": "the 350 W TDP is a reseller's copy of NVIDIA's datasheet; TechPowerUp read via a retailer's copy",
    # Apple: a build-to-order price or a copy of a publication is all the stored corpus holds.
    "mac-mini-m4-pro": "no price: Apple's upgrade prices for the 14-core CPU/20-core GPU chip and 64 GB are on no vendor "
    "or named-publication page we could read (the $1,399 base is Digital Trends')",
    "mac-studio-m3-ultra-512gb": "no price: the 80-core chip and 512 GB upgrade prices only on unknown sites (The Daily "
    "Scout, DEV Community); option withdrawn by Apple in March 2026",
    "macbook-pro-16-m3-max-64gb": "no price: Apple's 64 GB upgrade price for the 40-core M3 Max is on no vendor or "
    "named-publication page we could read (48 GB $3,999 TweakTown, 128 GB $7,199 Ars Technica)",
    "mac-studio-m3-ultra-96gb": "the $3,999 launch price read only in copies of Macworld and Six Colors",
    "mac-studio-m4-max-36gb": "the $1,999 launch price and 410 GB/s read only in copies of Macworld and Six Colors",
    "macbook-pro-14-m3-16gb": "the $200 upgrade to 16 GB read only on netm.pl and a copy; the $1,599 base is TweakTown's "
    "(The Verge and Daring Fireball: $1,600)",
    "macbook-pro-14-m5-max-128gb": "the only M5 Max price found is a secondary site's (mac-dvd.com)",
    "macbook-pro-16-m1-max-64gb": "The Verge's $4,299 review-unit price read in a copy of the video's captions",
    "macbook-pro-m4-max": "the $5,000 (128 GB) price read in a copy of a Gizmodo article",
}
"""Machines with a problem that could not be closed from sources we could read; each reason is reported, and an
entry that no longer has a problem must be removed (so the list cannot hide a fixed or a new gap)."""

GROUPS = ("apple", "other")


def _machine_of(problem: str) -> str | None:
    found = re.search(r"machines/([a-z0-9-]+)\.ya?ml", problem)
    return found.group(1) if found else None


def _group_of(ds: store.DataSet, problem: str) -> str:
    machine = _machine_of(problem)
    if machine and machine in ds.machines:
        return "apple" if ds.machines[machine].vendor == "apple" else "other"
    hardware = re.search(r"hardware '(.*)' maps", problem)
    if hardware:
        return "apple" if guess_vendor(hardware.group(1)) == "apple" else "other"
    return "other"


def _open(ds: store.DataSet, problems: list[str], group: str) -> list[str]:
    return [p for p in problems if _group_of(ds, p) == group and _machine_of(p) not in KNOWN_GAPS]


@pytest.fixture(scope="module")
def data() -> store.DataSet:
    ds = store.load(DATA)
    assert not ds.problems, "\n".join(map(str, ds.problems))
    return ds


@pytest.mark.parametrize("group", GROUPS)
def test_every_machine_is_priced_in_the_system_scenario(data: store.DataSet, group: str) -> None:
    problems = _open(data, unpriced(data), group)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("group", GROUPS)
def test_every_source_is_reviewed_or_backed_by_one(data: store.DataSet, group: str) -> None:
    problems = _open(data, unreviewed_sources(data), group)
    assert not problems, f"{len(problems)} unreviewed source(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("group", GROUPS)
def test_every_published_row_lands_on_one_machine(data: store.DataSet, group: str) -> None:
    problems = [p for p in unmapped(data) if _group_of(data, p) == group]
    assert not problems, "\n".join(problems)
    for ps in data.published:
        for row in ps.results:
            assert row.machine is None or row.machine in data.machines


def test_known_gaps_are_still_gaps(data: store.DataSet) -> None:
    open_problems = unpriced(data) + unreviewed_sources(data)
    stale = [m for m in KNOWN_GAPS if not any(_machine_of(p) == m for p in open_problems)]
    assert not stale, f"no longer a gap, remove from KNOWN_GAPS: {stale}"


# ---------------------------------------------------------------------------------------------
# A deliberately bad folder: each check must name what is wrong

BAD_MACHINE = {
    "schema_version": 1, "id": "bad-desktop", "name": "Bad desktop", "vendor": "nvidia", "form": "desktop",
    "accelerators": [{"name": "Some GPU", "memory_gb": 8, "memory_kind": "dedicated", "provenance": "published",
                      "sources": ["copy"]}],
    "usable_memory": {"rule": "vram_less_reserve", "reserve_gb": 1.0, "provenance": "estimated", "formula": "VRAM - 1"},
    "sources": [{"id": "copy", "url": "https://dream-dictionary.example/gpu", "title": "An aggregator's copy"}],
}
CARD_WITHOUT_HOST = {**BAD_MACHINE, "id": "card-only", "host": "no-such-host", "prices": [
    {"amount": 499, "kind": "purchase", "covers": "card", "date": "2024-01-01",
     "source_url": "https://www.nvidia.com/en-us/some-card/"}]}
CLOUD_PRICED_TO_BUY = {**BAD_MACHINE, "id": "cloud-bought", "form": "cloud", "prices": [
    {"amount": 30000, "kind": "purchase", "date": "2024-01-01", "source_url": "https://pcngames.example/?p=1"}]}
PUBLISHED = {
    "schema_version": 1, "id": "bench", "citation": {"url": "https://blog.example/bench", "title": "A bench"},
    "results": [
        {"hardware": "Mystery GPU 9000", "workload": "decode", "model": "llama-2-7b", "dtype": "q4_0",
         "engine": "llama.cpp", "tokens_per_s": 50.0},
        {"hardware": "Some GPU", "workload": "decode", "model": "llama-2-7b", "dtype": "q4_0",
         "engine": "llama.cpp", "tokens_per_s": 60.0},
    ],
}


@pytest.fixture
def bad(tmp_path: Path) -> store.DataSet:
    root = tmp_path / "data"
    for folder, doc in (("machines", BAD_MACHINE), ("machines", CARD_WITHOUT_HOST),
                        ("machines", CLOUD_PRICED_TO_BUY), ("published", PUBLISHED)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (root / store.NAMES_FILE).write_text("nvidia:\n  Some GPU: bad-desktop\n")
    return store.load(root)


def test_bad_folder_unpriced_machines_are_named(bad: store.DataSet) -> None:
    problems = unpriced(bad)
    assert len(problems) == 3, problems
    assert any("bad-desktop.yaml" in p and "system" in p for p in problems)
    assert any("card-only.yaml" in p and "'no-such-host'" in p for p in problems)
    assert any("cloud-bought.yaml" in p and "cloud_hourly" in p for p in problems)


def test_bad_folder_unreviewed_sources_are_named(bad: store.DataSet) -> None:
    problems = unreviewed_sources(bad)
    assert any("bad-desktop.yaml: accelerators.0.sources" in p and "dream-dictionary" in p for p in problems)
    assert any("cloud-bought.yaml: prices.0.source_url" in p for p in problems)
    assert any("bench.yaml: citation.url" in p for p in problems)
    assert not any("card-only.yaml: prices" in p for p in problems), "nvidia.com is reviewed"


def test_bad_folder_unmapped_row_is_named(bad: store.DataSet) -> None:
    problems = unmapped(bad)
    assert len(problems) == 1, problems
    assert "bench.yaml: results.0" in problems[0] and "Mystery GPU 9000" in problems[0]
    # the mapped row took its machine from the table
    assert bad.published[0].results[1].machine == "bad-desktop"


def test_a_second_reviewed_source_backs_an_aggregator() -> None:
    m = Machine.model_validate_json(json.dumps({**BAD_MACHINE, "sources": [
        *BAD_MACHINE["sources"], {"id": "vendor", "url": "https://www.nvidia.com/en-us/x/", "title": "NVIDIA"}],
        "accelerators": [{**BAD_MACHINE["accelerators"][0], "sources": ["copy", "vendor"]}],
        "prices": [{"amount": 9.0, "kind": "purchase", "date": "2024-01-01", "source_url": "https://agg.example/"},
                   {"amount": 9.0, "kind": "purchase", "date": "2024-01-02", "source_url": "https://www.amd.com/x"}]}))
    assert _machine_sources("m.yaml", m) == []
    assert reviewed("https://www.techpowerup.com/gpu-specs/x") and not reviewed("https://nottechpowerup.com/")


def test_names_table_is_validated(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "machines").mkdir(parents=True)
    (root / "machines" / "bad-desktop.yaml").write_text(yaml.safe_dump(BAD_MACHINE, sort_keys=False))
    (root / store.NAMES_FILE).write_text("apple:\n  Some GPU: bad-desktop\n  Other: gone\n"
                                         "not_a_machine:\n  Other: rig\n")
    ds = store.load(root)
    text = "\n".join(map(str, ds.problems))
    assert "listed under both `apple` and `not_a_machine`" in text, text
    (root / store.NAMES_FILE).write_text("apple:\n  Some GPU: bad-desktop\n  Other: gone\n")
    text = "\n".join(map(str, store.load(root).problems))
    assert "apple.Some GPU" in text and "vendor 'nvidia'" in text, text
    assert "apple.Other" in text and "unknown machine 'gone'" in text, text
