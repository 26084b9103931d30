"""Local hardware detection, every OS branch, on fake machines built under tmp_path.

Linux machines are real directory trees (sysfs, procfs, /dev, /etc) under tmp_path.
The Windows and macOS probes (cfgmgr32, the registry, GetSystemFirmwareTable,
sysctlbyname) cannot run here, so those machines are SystemViews whose probes are
plain functions returning what those OS calls would return.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest

from shimmy_onboard.hardware import (
    SAFE_DEFAULTS,
    MachineFacts,
    SystemView,
    detect_machine,
    smbios_chassis_type,
)
from shimmy_onboard.vocab import GpuVendor, HardwareTier, Platform, Region

NVIDIA, AMD, INTEL = 0x10DE, 0x1002, 0x8086
VGA, THREE_D, OTHER_DISPLAY, ACCELERATOR, AUDIO = 0x030000, 0x030200, 0x038000, 0x120000, 0x040300
KIB = 1024
GIB = 1024**3


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIMMY_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("DO_NOT_TRACK", "SHIMMY_NO_METRICS", "CI", "SHIMMY_METRICS_ENDPOINT",
                 "SHIMMY_METRICS_DEBUG"):
        monkeypatch.delenv(name, raising=False)


# --- building fake Linux machines ----------------------------------------------------


class FakeLinux:
    """A Linux machine as a directory tree: what detection reads, nothing more."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._slot = 0
        (root / "sys" / "bus" / "pci" / "devices").mkdir(parents=True)
        (root / "sys" / "class" / "power_supply").mkdir(parents=True)
        self.memory(16 * GIB)

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def pci(
        self,
        vendor: int,
        pci_class: int = VGA,
        device: int = 0x1234,
        subsystem_vendor: int | None = None,
    ) -> None:
        self._slot += 1
        slot = f"sys/bus/pci/devices/0000:{self._slot:02x}:00.0"
        self.write(f"{slot}/vendor", f"0x{vendor:04x}\n")
        self.write(f"{slot}/device", f"0x{device:04x}\n")
        self.write(f"{slot}/class", f"0x{pci_class:06x}\n")
        subsystem = vendor if subsystem_vendor is None else subsystem_vendor
        self.write(f"{slot}/subsystem_vendor", f"0x{subsystem:04x}\n")

    def power_supply(self, name: str, kind: str, scope: str | None = None) -> None:
        self.write(f"sys/class/power_supply/{name}/type", kind + "\n")
        if scope is not None:
            self.write(f"sys/class/power_supply/{name}/scope", scope + "\n")

    def chassis(self, chassis_type: int) -> None:
        self.write("sys/class/dmi/id/chassis_type", f"{chassis_type}\n")

    def memory(self, total_bytes: int) -> None:
        self.write(
            "proc/meminfo",
            f"MemTotal:       {total_bytes // KIB} kB\nMemFree:         1234 kB\n",
        )

    def zone(self, name: str) -> None:
        (self.root / "etc").mkdir(exist_ok=True)
        link = self.root / "etc" / "localtime"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(f"/usr/share/zoneinfo/{name}")

    def view(
        self,
        machine: str = "x86_64",
        cpus: int | None = 8,
        env: Mapping[str, str] | None = None,
    ) -> SystemView:
        return SystemView(
            sys_platform="linux",
            machine=machine,
            env={} if env is None else env,
            root=self.root,
            cpu_count=lambda: cpus,
        )

    def detect(
        self,
        machine: str = "x86_64",
        cpus: int | None = 8,
        env: Mapping[str, str] | None = None,
    ) -> MachineFacts:
        return detect_machine(self.view(machine=machine, cpus=cpus, env=env))


@pytest.fixture
def linux(tmp_path: Path) -> FakeLinux:
    return FakeLinux(tmp_path / "machine")


def windows_view(
    tmp_path: Path,
    device_ids: Sequence[str] = (),
    *,
    env_arch: str = "AMD64",
    native: str | None = "AMD64",
    battery: bool | None = False,
    memory: int | None = 16 * GIB,
    cpus: int | None = 8,
    smbios: bytes | None = None,
    zone_key: str | None = "UTC",
) -> SystemView:
    return SystemView(
        sys_platform="win32",
        machine=env_arch,
        env={},
        root=tmp_path / "no-such-root",
        cpu_count=lambda: cpus,
        memory_bytes=lambda: memory,
        has_battery=lambda: battery,
        windows_display_device_ids=lambda: list(device_ids),
        windows_native_machine=lambda: native,
        windows_smbios_table=lambda: smbios,
        windows_time_zone_key=lambda: zone_key,
    )


def macos_view(
    tmp_path: Path,
    machine: str,
    sysctls: Mapping[str, int],
    *,
    battery: bool | None = False,
    cpus: int | None = 8,
) -> SystemView:
    return SystemView(
        sys_platform="darwin",
        machine=machine,
        env={},
        root=tmp_path / "no-such-root",
        cpu_count=lambda: cpus,
        has_battery=lambda: battery,
        macos_sysctl_int=lambda name: sysctls.get(name),
    )


def raises(*_args: object) -> NoReturn:
    raise OSError("probe failed")


# --- GPU vendor on Linux ---------------------------------------------------------------


def test_a_hybrid_laptop_with_nvidia_and_intel_reports_nvidia(linux: FakeLinux) -> None:
    linux.pci(INTEL, VGA)
    linux.pci(NVIDIA, THREE_D)
    linux.pci(NVIDIA, AUDIO)  # the dGPU's HDMI audio function is not a second GPU
    facts = linux.detect()
    assert facts.gpu_vendor is GpuVendor.NVIDIA
    assert facts.gpu_detected


def test_amd_wins_over_intel_and_nvidia_over_amd(linux: FakeLinux) -> None:
    linux.pci(INTEL, VGA)
    linux.pci(AMD, VGA)
    assert linux.detect().gpu_vendor is GpuVendor.AMD
    linux.pci(NVIDIA, OTHER_DISPLAY)
    assert linux.detect().gpu_vendor is GpuVendor.NVIDIA


def test_an_integrated_intel_gpu_alone_reports_intel(linux: FakeLinux) -> None:
    linux.pci(INTEL, VGA)
    assert linux.detect().gpu_vendor is GpuVendor.INTEL


@pytest.mark.parametrize(
    ("vendor", "device"),
    [
        (0x1AF4, 0x1050),  # virtio-gpu
        (0x1B36, 0x0100),  # QXL
        (0x1234, 0x1111),  # QEMU / Bochs stdvga
        (0x15AD, 0x0405),  # VMware SVGA II
        (0x80EE, 0xBEEF),  # VirtualBox
        (0x1414, 0x5353),  # Hyper-V video
        (0x1A03, 0x2000),  # ASPEED BMC
        (0x102B, 0x0534),  # Matrox G200eR
    ],
)
def test_virtual_and_management_adapters_alone_are_no_gpu(
    linux: FakeLinux, vendor: int, device: int
) -> None:
    linux.pci(vendor, VGA, device=device)
    facts = linux.detect()
    assert facts.gpu_vendor is GpuVendor.NONE
    assert not facts.gpu_detected


def test_an_emulated_card_wearing_a_gpu_vendor_id_is_no_gpu(linux: FakeLinux) -> None:
    # QEMU's ati-vga says 0x1002 but carries QEMU's subsystem vendor.
    linux.pci(AMD, VGA, device=0x5159, subsystem_vendor=0x1AF4)
    assert linux.detect().gpu_vendor is GpuVendor.NONE


def test_a_surface_laptops_intel_gpu_with_microsofts_subsystem_id_counts(
    linux: FakeLinux,
) -> None:
    linux.pci(INTEL, VGA, subsystem_vendor=0x1414)
    assert linux.detect().gpu_vendor is GpuVendor.INTEL


def test_a_processing_accelerator_counts_for_nvidia_but_not_intel(linux: FakeLinux) -> None:
    linux.pci(INTEL, ACCELERATOR)  # Intel's NPU
    assert linux.detect().gpu_vendor is GpuVendor.NONE
    linux.pci(NVIDIA, ACCELERATOR)
    assert linux.detect().gpu_vendor is GpuVendor.NVIDIA


def test_a_processing_accelerator_counts_for_amd(linux: FakeLinux) -> None:
    linux.pci(AMD, ACCELERATOR)
    assert linux.detect().gpu_vendor is GpuVendor.AMD


def test_a_non_display_device_from_a_gpu_vendor_is_no_gpu(linux: FakeLinux) -> None:
    linux.pci(INTEL, 0x060000)  # host bridge
    linux.pci(NVIDIA, 0x020700)  # InfiniBand-ish network function
    assert linux.detect().gpu_vendor is GpuVendor.NONE


def test_wsl2_with_the_nvidia_host_library_reports_nvidia(linux: FakeLinux) -> None:
    linux.write("dev/dxg", "")
    linux.write("usr/lib/wsl/lib/libcuda.so", b"\x7fELF")
    assert linux.detect().gpu_vendor is GpuVendor.NVIDIA


def test_wsl2_without_a_vendor_library_reports_no_gpu(linux: FakeLinux) -> None:
    linux.write("dev/dxg", "")
    linux.write("usr/lib/wsl/lib/libd3d12.so", b"\x7fELF")  # there for any adapter
    linux.write("usr/lib/wsl/lib/libdxcore.so", b"\x7fELF")
    assert linux.detect().gpu_vendor is GpuVendor.NONE


def test_a_cuda_library_without_dev_dxg_is_not_wsl(linux: FakeLinux) -> None:
    linux.write("usr/lib/wsl/lib/libcuda.so", b"\x7fELF")
    assert linux.detect().gpu_vendor is GpuVendor.NONE


# --- platform ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "platform"),
    [
        ("x86_64", Platform.LINUX_X64),
        ("aarch64", Platform.LINUX_ARM64),
        ("arm64", Platform.LINUX_ARM64),
        ("riscv64", Platform.OTHER),
        ("armv7l", Platform.OTHER),
        ("", Platform.OTHER),
    ],
)
def test_linux_platform_follows_the_architecture(
    linux: FakeLinux, machine: str, platform: Platform
) -> None:
    assert linux.detect(machine=machine).platform is platform


def test_an_unknown_operating_system_is_other(linux: FakeLinux) -> None:
    view = SystemView(sys_platform="freebsd14", machine="amd64", env={}, root=linux.root)
    assert detect_machine(view).platform is Platform.OTHER


@pytest.mark.parametrize(
    ("env_arch", "native", "platform"),
    [
        ("AMD64", "AMD64", Platform.WINDOWS_X64),
        ("ARM64", "ARM64", Platform.WINDOWS_ARM64),
        ("AMD64", "ARM64", Platform.WINDOWS_ARM64),  # x64 Python emulated on Windows on Arm
        ("AMD64", None, Platform.WINDOWS_X64),  # no IsWow64Process2: the variable decides
        ("x86", None, Platform.OTHER),
    ],
)
def test_windows_platform_prefers_the_native_machine(
    tmp_path: Path, env_arch: str, native: str | None, platform: Platform
) -> None:
    view = windows_view(tmp_path, env_arch=env_arch, native=native)
    assert detect_machine(view).platform is platform


def test_python_under_rosetta_on_apple_silicon_reports_macos_arm64_and_apple(
    tmp_path: Path,
) -> None:
    view = macos_view(tmp_path, "x86_64", {"sysctl.proc_translated": 1})
    facts = detect_machine(view)
    assert facts.platform is Platform.MACOS_ARM64
    assert facts.gpu_vendor is GpuVendor.APPLE


def test_apple_silicon_is_recognised_by_hw_optional_arm64_alone(tmp_path: Path) -> None:
    view = macos_view(tmp_path, "x86_64", {"hw.optional.arm64": 1, "sysctl.proc_translated": 0})
    assert detect_machine(view).platform is Platform.MACOS_ARM64


def test_native_apple_silicon_is_macos_arm64_and_apple(tmp_path: Path) -> None:
    facts = detect_machine(macos_view(tmp_path, "arm64", {}))
    assert (facts.platform, facts.gpu_vendor) == (Platform.MACOS_ARM64, GpuVendor.APPLE)


def test_an_intel_mac_is_macos_x64_without_a_guessed_gpu(tmp_path: Path) -> None:
    facts = detect_machine(macos_view(tmp_path, "x86_64", {"sysctl.proc_translated": 0}))
    assert (facts.platform, facts.gpu_vendor) == (Platform.MACOS_X64, GpuVendor.NONE)


def test_a_failing_sysctl_leaves_an_intel_mac_x64(tmp_path: Path) -> None:
    view = macos_view(tmp_path, "x86_64", {})
    view = replace(view, macos_sysctl_int=raises)
    facts = detect_machine(view)
    assert facts.platform is Platform.MACOS_X64
    assert facts.hardware_tier is HardwareTier.DESKTOP


# --- GPU vendor on Windows ----------------------------------------------------------


def test_windows_hybrid_laptop_reports_nvidia_from_the_device_ids(tmp_path: Path) -> None:
    ids = [
        r"PCI\VEN_8086&DEV_A7A0&SUBSYS_0B1A1028&REV_04\3&11583659&0&10",
        r"PCI\VEN_10DE&DEV_28E0&SUBSYS_0B1A1028&REV_A1\4&2B1A5B1B&0&0008",
        r"ROOT\BasicDisplay\0000",
    ]
    assert detect_machine(windows_view(tmp_path, ids)).gpu_vendor is GpuVendor.NVIDIA


def test_windows_registry_matching_ids_in_lower_case_are_read(tmp_path: Path) -> None:
    ids = [r"pci\ven_1002&dev_73bf", r"pci\cc_0300"]
    assert detect_machine(windows_view(tmp_path, ids)).gpu_vendor is GpuVendor.AMD


def test_a_windows_virtual_machine_has_no_gpu(tmp_path: Path) -> None:
    ids = [
        r"PCI\VEN_1414&DEV_5353&SUBSYS_00000000&REV_00\3&267A616A&0&40",
        r"VMBUS\{DA0A7802-E377-4AAC-8E77-0558EB1073F8}\{5620E0C7-8062-4DCE-AEB7-520C7EF76171}",
        r"PCI\VEN_15AD&DEV_0405&SUBSYS_040515AD&REV_00\3&61AAA01&0&78",
    ]
    facts = detect_machine(windows_view(tmp_path, ids))
    assert facts.gpu_vendor is GpuVendor.NONE


def test_windows_ignores_driver_descriptions_and_malformed_ids(tmp_path: Path) -> None:
    ids = ["NVIDIA GeForce RTX 4090", r"PCI\VEN_ZZZZ&DEV_0001", r"PCI\DEV_10DE", "", "PCI"]
    assert detect_machine(windows_view(tmp_path, ids)).gpu_vendor is GpuVendor.NONE


def test_a_failing_windows_display_probe_costs_only_the_gpu(tmp_path: Path) -> None:
    view = windows_view(tmp_path, zone_key="Tokyo Standard Time", battery=True)
    view = replace(view, windows_display_device_ids=raises)
    facts = detect_machine(view)
    assert facts == MachineFacts(
        Platform.WINDOWS_X64, HardwareTier.LAPTOP, GpuVendor.NONE, Region.APAC
    )


# --- hardware tier ---------------------------------------------------------------------


def test_a_battery_makes_a_laptop(linux: FakeLinux) -> None:
    linux.power_supply("AC", "Mains")
    linux.power_supply("BAT0", "Battery", scope=None)
    assert linux.detect().hardware_tier is HardwareTier.LAPTOP


def test_a_wireless_mouse_battery_does_not_make_a_laptop(linux: FakeLinux) -> None:
    linux.power_supply("hidpp_battery_0", "Battery", scope="Device")
    assert linux.detect().hardware_tier is HardwareTier.DESKTOP


@pytest.mark.parametrize("chassis", [8, 9, 10, 14, 31, 32])
def test_a_portable_chassis_makes_a_laptop(linux: FakeLinux, chassis: int) -> None:
    linux.chassis(chassis)
    assert linux.detect().hardware_tier is HardwareTier.LAPTOP


@pytest.mark.parametrize("chassis", [17, 23, 28, 29])
def test_a_server_chassis_makes_a_server(linux: FakeLinux, chassis: int) -> None:
    linux.chassis(chassis)
    assert linux.detect().hardware_tier is HardwareTier.SERVER


def test_an_aspeed_management_adapter_makes_a_server(linux: FakeLinux) -> None:
    linux.pci(0x1A03, VGA, device=0x2000)
    linux.pci(NVIDIA, THREE_D)
    facts = linux.detect()
    assert facts.hardware_tier is HardwareTier.SERVER
    assert facts.gpu_vendor is GpuVendor.NVIDIA


def test_a_matrox_g200e_makes_a_server_but_a_desktop_matrox_card_does_not(
    tmp_path: Path,
) -> None:
    server = FakeLinux(tmp_path / "server")
    server.pci(0x102B, VGA, device=0x0522)
    assert server.detect().hardware_tier is HardwareTier.SERVER
    desktop = FakeLinux(tmp_path / "desktop")
    desktop.pci(0x102B, VGA, device=0x0521)  # a G200 AGP card
    assert desktop.detect().hardware_tier is HardwareTier.DESKTOP


def test_256_gb_of_memory_makes_a_server(linux: FakeLinux) -> None:
    linux.memory(int(251.5 * GIB))  # what a 256 GB machine reports
    assert linux.detect().hardware_tier is HardwareTier.SERVER


def test_64_logical_cpus_make_a_server(linux: FakeLinux) -> None:
    assert linux.detect(cpus=64).hardware_tier is HardwareTier.SERVER
    assert linux.detect(cpus=63).hardware_tier is HardwareTier.WORKSTATION


def test_64_gb_reported_as_62_8_gib_makes_a_workstation(linux: FakeLinux) -> None:
    linux.memory(int(62.8 * GIB))
    assert linux.detect().hardware_tier is HardwareTier.WORKSTATION


def test_24_logical_cpus_make_a_workstation(linux: FakeLinux) -> None:
    assert linux.detect(cpus=24).hardware_tier is HardwareTier.WORKSTATION
    assert linux.detect(cpus=23).hardware_tier is HardwareTier.DESKTOP


def test_48_gb_and_16_cpus_make_a_desktop(linux: FakeLinux) -> None:
    linux.memory(int(47 * GIB))
    assert linux.detect(cpus=16).hardware_tier is HardwareTier.DESKTOP


def test_the_first_matching_tier_wins(linux: FakeLinux) -> None:
    linux.memory(512 * GIB)
    linux.power_supply("BAT0", "Battery")
    assert linux.detect(cpus=128).hardware_tier is HardwareTier.LAPTOP


def test_windows_tier_from_battery_chassis_and_memory(tmp_path: Path) -> None:
    assert detect_machine(windows_view(tmp_path, battery=True)).hardware_tier is (
        HardwareTier.LAPTOP
    )
    rack = smbios_with_chassis(23)
    assert detect_machine(windows_view(tmp_path, smbios=rack)).hardware_tier is (
        HardwareTier.SERVER
    )
    big = windows_view(tmp_path, memory=int(251 * GIB))
    assert detect_machine(big).hardware_tier is HardwareTier.SERVER
    aspeed = windows_view(tmp_path, [r"PCI\VEN_1A03&DEV_2000&SUBSYS_20001A03&REV_52\3&1"])
    assert detect_machine(aspeed).hardware_tier is HardwareTier.SERVER


def test_macos_tier_from_battery_and_memsize(tmp_path: Path) -> None:
    laptop = macos_view(tmp_path, "arm64", {}, battery=True)
    assert detect_machine(laptop).hardware_tier is HardwareTier.LAPTOP
    studio = macos_view(tmp_path, "arm64", {"hw.memsize": 64 * GIB}, cpus=12)
    assert detect_machine(studio).hardware_tier is HardwareTier.WORKSTATION
    mini = macos_view(tmp_path, "arm64", {"hw.memsize": 16 * GIB}, cpus=10)
    assert detect_machine(mini).hardware_tier is HardwareTier.DESKTOP


def smbios_structure(kind: int, formatted: bytes, strings: Sequence[bytes] = ()) -> bytes:
    body = bytes([kind, 4 + len(formatted)]) + b"\x00\x00" + formatted
    tail = b"".join(s + b"\0" for s in strings) + b"\0" if strings else b"\0\0"
    return body + tail


def smbios_with_chassis(chassis: int) -> bytes:
    header = b"\x00\x03\x04\x00" + b"\x00\x00\x00\x00"
    bios = smbios_structure(0, b"\x01\x02\x00\xf0\x03\x7f" + bytes(12), [b"Vendor", b"1.0"])
    enclosure = smbios_structure(3, b"\x01" + bytes([chassis]) + b"\x02\x03\x04", [b"Maker"])
    end = smbios_structure(127, b"")
    return header + bios + enclosure + end


def test_the_smbios_chassis_type_is_found_past_structures_with_strings() -> None:
    assert smbios_chassis_type(smbios_with_chassis(9)) == 9
    assert smbios_chassis_type(smbios_with_chassis(0x80 | 23)) == 23  # lock bit dropped


@pytest.mark.parametrize(
    "table",
    [b"", b"\x00" * 8, smbios_with_chassis(9)[:20], b"\x00" * 8 + b"\x03\x02\x00\x00",
     b"\x00" * 8 + b"\x00\x08" + b"\x01" * 40],
)
def test_truncated_or_malformed_smbios_gives_no_chassis(table: bytes) -> None:
    assert smbios_chassis_type(table) is None


# --- broken machines give safe defaults --------------------------------------------------


def test_a_broken_sysfs_gives_safe_defaults(linux: FakeLinux) -> None:
    # unreadable: directories where files should be (root reads any file, so no chmod)
    (linux.root / "sys/bus/pci/devices/0000:00:01.0/class").mkdir(parents=True)
    (linux.root / "sys/class/power_supply/BAT0/type").mkdir(parents=True)
    (linux.root / "sys/class/dmi/id/chassis_type").mkdir(parents=True)
    # garbage contents
    linux.write("sys/bus/pci/devices/0000:00:02.0/class", b"\xff\xfe\x00garbage")
    linux.write("sys/bus/pci/devices/0000:00:02.0/vendor", "0x10de\n")
    linux.write("sys/bus/pci/devices/0000:00:03.0/class", "0x030000\n")
    linux.write("sys/bus/pci/devices/0000:00:03.0/vendor", "0x10_de\n")
    linux.write("sys/bus/pci/devices/0000:00:04.0/class", "0x" + "3" * 5000)
    linux.write("sys/bus/pci/devices/0000:00:04.0/vendor", "0x8086")
    linux.write("sys/class/power_supply/BAT1/type", "Batt\xe9ry\n")
    linux.write("proc/meminfo", "MemTotal: lots kB\n")
    (linux.root / "sys/bus/pci/devices/0000:00:05.0").symlink_to("0000:00:05.0")  # a loop
    facts = linux.detect(cpus=None)
    assert facts == MachineFacts(
        Platform.LINUX_X64, HardwareTier.DESKTOP, GpuVendor.NONE, Region.UNKNOWN
    )


def test_a_machine_with_no_sysfs_at_all_gives_safe_defaults(tmp_path: Path) -> None:
    view = SystemView(
        sys_platform="linux", machine="x86_64", env={}, root=tmp_path / "empty",
        cpu_count=raises,
    )
    facts = detect_machine(view)
    assert (facts.hardware_tier, facts.gpu_vendor, facts.region_indicator) == (
        HardwareTier.DESKTOP, GpuVendor.NONE, Region.UNKNOWN
    )


def test_the_pci_devices_folder_being_a_file_gives_no_gpu(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    (root / "sys" / "bus" / "pci").mkdir(parents=True)
    (root / "sys" / "bus" / "pci" / "devices").write_text("not a folder")
    view = SystemView(sys_platform="linux", machine="x86_64", env={}, root=root)
    assert detect_machine(view).gpu_vendor is GpuVendor.NONE


class ExplodingEnv(Mapping[str, str]):
    def __getitem__(self, key: str) -> str:
        raise RuntimeError("environment unavailable")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("environment unavailable")

    def __len__(self) -> int:
        raise RuntimeError("environment unavailable")

    def get(self, key: str, default: object = None) -> str:
        raise RuntimeError("environment unavailable")


def test_every_probe_failing_gives_the_safe_defaults_and_never_raises(tmp_path: Path) -> None:
    for sys_platform in ("linux", "win32", "darwin", "sunos5"):
        view = SystemView(
            sys_platform=sys_platform, machine="sparc", env=ExplodingEnv(),
            root=tmp_path / "nothing", cpu_count=raises, memory_bytes=raises,
            has_battery=raises, macos_sysctl_int=raises, windows_display_device_ids=raises,
            windows_native_machine=raises, windows_smbios_table=raises,
            windows_time_zone_key=raises,
        )
        assert detect_machine(view) == SAFE_DEFAULTS


def test_a_view_that_is_not_a_view_gives_the_safe_defaults() -> None:
    assert detect_machine(object()) == SAFE_DEFAULTS  # type: ignore[arg-type]


# --- region through the whole detector ----------------------------------------------


def test_linux_region_comes_from_the_localtime_symlink(linux: FakeLinux) -> None:
    linux.zone("Atlantic/Reykjavik")
    assert linux.detect().region_indicator is Region.EMEA
    linux.zone("Pacific/Honolulu")
    assert linux.detect().region_indicator is Region.AMERICAS


def test_tz_overrides_the_localtime_symlink(linux: FakeLinux) -> None:
    linux.zone("Europe/Berlin")
    assert linux.detect(env={"TZ": ":Asia/Tokyo"}).region_indicator is Region.APAC


@pytest.mark.parametrize(
    ("key", "region"),
    [
        ("Pacific Standard Time", Region.AMERICAS),
        ("Hawaiian Standard Time", Region.AMERICAS),
        ("W. Europe Standard Time", Region.EMEA),
        ("Arabian Standard Time", Region.EMEA),
        ("Greenwich Standard Time", Region.EMEA),
        ("Tokyo Standard Time", Region.APAC),
        ("AUS Eastern Standard Time", Region.APAC),
        ("UTC", Region.UNKNOWN),
        ("Some Future Standard Time", Region.UNKNOWN),
        (None, Region.UNKNOWN),
    ],
)
def test_windows_region_comes_from_the_time_zone_key_name(
    tmp_path: Path, key: str | None, region: Region
) -> None:
    assert detect_machine(windows_view(tmp_path, zone_key=key)).region_indicator is region


# --- this machine, for real ---------------------------------------------------------


AUDIT_SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys
    SPAWNS = {"subprocess.Popen", "os.posix_spawn", "os.fork", "os.forkpty", "os.exec",
              "os.spawn", "os.system", "os.startfile", "pty.spawn"}
    seen = []
    sys.addaudithook(lambda event, args: seen.append(event) if event in SPAWNS else None)
    from shimmy_onboard.hardware import detect_machine
    facts = detect_machine()
    during = list(seen)
    heavy = sorted(m for m in ("psutil", "ctypes", "platform", "textual", "pydantic", "httpx")
                   if m in sys.modules)
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # proves the hook sees spawns
    print(json.dumps({"during": during, "after_real_spawn": seen[len(during):],
                      "heavy": heavy, "facts": {k: v.value for k, v in vars(facts).items()}}))
    """
)


def test_detection_on_this_linux_machine_spawns_no_process_and_imports_nothing_heavy() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the no-process promise is Linux's")
    result = subprocess.run(
        [sys.executable, "-c", AUDIT_SCRIPT], capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["during"] == []
    assert "subprocess.Popen" in report["after_real_spawn"]
    assert report["heavy"] == []
    facts = report["facts"]
    assert facts["platform"] in {p.value for p in Platform}
    assert facts["hardware_tier"] in {t.value for t in HardwareTier}
    assert facts["gpu_vendor"] in {g.value for g in GpuVendor}
    assert facts["region_indicator"] in {r.value for r in Region}


FIFO_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from shimmy_onboard.hardware import SystemView, detect_machine
    root = Path(sys.argv[1])
    print(detect_machine(SystemView(sys_platform="linux", machine="x86_64", env={}, root=root)))
    """
)


def test_a_fifo_where_a_file_should_be_does_not_hang_detection(linux: FakeLinux) -> None:
    # Opening a FIFO for reading blocks until a writer comes; detection must not wait.
    for relative in ("sys/class/dmi/id/chassis_type", "proc/meminfo", "etc/timezone"):
        path = linux.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    linux.pci(NVIDIA, VGA)
    os.unlink(linux.root / "sys/bus/pci/devices/0000:01:00.0/vendor")
    os.mkfifo(linux.root / "sys/bus/pci/devices/0000:01:00.0/vendor")
    result = subprocess.run(
        [sys.executable, "-c", FIFO_SCRIPT, str(linux.root)], capture_output=True, text=True,
        timeout=10, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert result.returncode == 0, result.stderr
    assert "HardwareTier.DESKTOP" in result.stdout
    assert "GpuVendor.NONE" in result.stdout
