"""Local hardware detection: platform, hardware tier, GPU vendor and region.

DESIGN.md, "Hardware detection": local, fast, no network, never raises. Every fact is
read in process: sysfs and procfs on Linux (no process is spawned), the registry and
cfgmgr32 through ``ctypes`` on Windows, ``sysctlbyname`` on macOS. Nothing here runs a
child process, so the "2 s limit for a probe that spawns" never comes into play.

Everything the detector looks at comes through a :class:`SystemView`, so tests can
stand in for any machine: a fake filesystem root for sysfs/procfs/etc, and callables
for the in-process Windows and macOS probes. :func:`detect_machine` uses this machine's.

GPU vendor, by PCI vendor id, never by device name:

- ``0x10de`` nvidia, ``0x1002`` amd, ``0x8086`` intel, in a display class (``0x0300``
  VGA, ``0x0302`` 3D, ``0x0380`` other display), or the processing-accelerator class
  ``0x1200`` for nvidia and amd only (data-centre GPUs; Intel's NPU uses it too and is
  not a GPU). Several: nvidia > amd > intel.
- Virtual and management adapters are not GPUs: any device from the vendors in
  :data:`VIRTUAL_ADAPTER_VENDORS` / :data:`MANAGEMENT_ADAPTER_VENDORS`, and any device
  whose *subsystem* vendor is a hypervisor's (QEMU's emulated ATI card ``ati-vga`` says
  ``0x1002`` but carries QEMU's ``0x1af4`` subsystem). Microsoft's ``0x1414`` is not in
  the subsystem list: Surface laptops put it on their real Intel GPUs.
- WSL2 (``/dev/dxg``): the GPU is the Windows host's and sysfs shows none. It counts
  only where the host driver's library is mapped in: NVIDIA's driver puts
  ``libcuda.so`` / ``libnvidia-ml.so.1`` in ``/usr/lib/wsl/lib``. AMD's and Intel's
  Windows drivers ship no such vendor-named library there, and ``libd3d12.so`` /
  ``libdxcore.so`` are there for every adapter (even the software one), so AMD and
  Intel under WSL2 report ``none``: understated, never invented.
- macOS: Apple silicon (also Python under Rosetta) is ``apple``; an Intel Mac reports
  ``none``, since telling its GPU would take IOKit or ``system_profiler``.
- Windows: the present devices of the display class from cfgmgr32, falling back to the
  class key's ``MatchingDeviceId`` values in the registry; ``VEN_xxxx`` from the PCI
  device id, never ``DriverDesc`` (a name).

Hardware tier, first match wins (thresholds at 90 % of the nominal size, because
reported totals fall short of it: a 64 GB machine reports about 62.8 GiB):

``laptop``  a system battery (Linux: a ``power_supply`` of type ``Battery`` that is not a
            peripheral's, ``scope`` ``Device``), or a portable SMBIOS chassis type;
``server``  a server chassis type, a management video adapter (ASPEED, Matrox G200e,
            Huawei iBMC), >= 256 GB RAM or >= 64 logical CPUs;
``workstation`` >= 64 GB RAM or >= 24 logical CPUs;
``desktop`` otherwise, and whenever nothing could be read.

Only ``os``, ``sys`` and the standard library at module level: ``ctypes``, ``winreg``
and ``psutil`` are imported inside the probes that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from shimmy_onboard.region import local_region, read_small_file
from shimmy_onboard.vocab import GpuVendor, HardwareTier, Platform, Region

# --- PCI ids -------------------------------------------------------------------------

PCI_VENDOR_NVIDIA = 0x10DE
PCI_VENDOR_AMD = 0x1002
PCI_VENDOR_INTEL = 0x8086

GPU_VENDORS: dict[int, GpuVendor] = {
    PCI_VENDOR_NVIDIA: GpuVendor.NVIDIA,
    PCI_VENDOR_AMD: GpuVendor.AMD,
    PCI_VENDOR_INTEL: GpuVendor.INTEL,
}

#: Base class and subclass (``class`` >> 8): VGA, 3D controller, other display.
DISPLAY_CLASSES = frozenset({0x0300, 0x0302, 0x0380})
#: Processing accelerators: a GPU only from nvidia and amd (Intel's NPU is one too).
ACCELERATOR_CLASS = 0x1200
ACCELERATOR_GPU_VENDORS = frozenset({GpuVendor.NVIDIA, GpuVendor.AMD})

#: Emulated display adapters of hypervisors: virtio / Red Hat, QXL / Red Hat (QEMU),
#: Bochs / QEMU stdvga, VMware SVGA, VirtualBox, Hyper-V, Cirrus (QEMU's cirrus-vga).
VIRTUAL_ADAPTER_VENDORS = frozenset({0x1AF4, 0x1B36, 0x1234, 0x15AD, 0x80EE, 0x1414, 0x1013})
#: Subsystem vendors that only ever appear on emulated devices (not 0x1414: see above).
VIRTUAL_SUBSYSTEM_VENDORS = frozenset({0x1AF4, 0x1B36, 0x1234, 0x15AD, 0x80EE})

PCI_VENDOR_ASPEED = 0x1A03
PCI_VENDOR_MATROX = 0x102B
PCI_VENDOR_HUAWEI = 0x19E5
#: Baseboard-management video: every ASPEED display device (AST2x00 BMCs).
MANAGEMENT_ADAPTER_VENDORS = frozenset({PCI_VENDOR_ASPEED})
#: Matrox G200 server variants (SE-A, SE-B, EV, WB, eH, eR, eW3, eH3), as in Linux's
#: mgag200 driver; the desktop G200 cards (0x0520, 0x0521) are not management adapters.
MATROX_G200_SERVER_DEVICES = frozenset({0x0522, 0x0524, 0x0530, 0x0532, 0x0533, 0x0534,
                                        0x0536, 0x0538})
HUAWEI_IBMC_DEVICE = 0x1711

# --- SMBIOS chassis types --------------------------------------------------------------

#: Portable, Laptop, Notebook, Hand Held, Sub Notebook, Tablet, Convertible, Detachable.
PORTABLE_CHASSIS = frozenset({8, 9, 10, 11, 14, 30, 31, 32})
#: Main Server Chassis, Rack Mount, Multi-system, Blade, Blade Enclosure.
SERVER_CHASSIS = frozenset({17, 23, 25, 28, 29})

# --- tier thresholds -------------------------------------------------------------------

GIB = 1024**3
# Reported totals fall short of the nominal size (firmware, kernel, iGPU carve-outs).
NOMINAL_FRACTION = 0.9
SERVER_MEMORY_BYTES = int(NOMINAL_FRACTION * 256 * GIB)
WORKSTATION_MEMORY_BYTES = int(NOMINAL_FRACTION * 64 * GIB)
SERVER_LOGICAL_CPUS = 64
WORKSTATION_LOGICAL_CPUS = 24

# sysfs and procfs files are a few bytes; meminfo a few KB. Never read more than this.
_MAX_READ = 16 * 1024
# A sysfs with more PCI functions than this is not one we should walk in full.
_MAX_PCI_FUNCTIONS = 4096


# --- the facts ----------------------------------------------------------------------


@dataclass(frozen=True)
class MachineFacts:
    platform: Platform
    hardware_tier: HardwareTier
    gpu_vendor: GpuVendor
    region_indicator: Region

    @property
    def gpu_detected(self) -> bool:
        return self.gpu_vendor is not GpuVendor.NONE


SAFE_DEFAULTS = MachineFacts(
    platform=Platform.OTHER,
    hardware_tier=HardwareTier.DESKTOP,
    gpu_vendor=GpuVendor.NONE,
    region_indicator=Region.UNKNOWN,
)


@dataclass(frozen=True)
class PciFunction:
    """One PCI function, as far as detection cares: ids and class, never a name."""

    vendor: int
    device: int | None
    pci_class: int  # base class and subclass, e.g. 0x0300
    subsystem_vendor: int | None = None


# --- the real in-process probes (never called by tests on this Linux machine) --------


def _macos_sysctl_int(name: str) -> int | None:
    """An integer sysctl (``hw.memsize``, ``sysctl.proc_translated``) via ``sysctlbyname``."""
    if sys.platform != "darwin":
        return None
    import ctypes

    # Not ctypes.util.find_library: on some systems it spawns a process.
    libc = ctypes.CDLL("/usr/lib/libSystem.B.dylib", use_errno=True)
    libc.sysctlbyname.argtypes = [
        ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
        ctypes.c_size_t,
    ]
    libc.sysctlbyname.restype = ctypes.c_int
    buffer = ctypes.create_string_buffer(8)
    size = ctypes.c_size_t(len(buffer))
    status = libc.sysctlbyname(
        name.encode("ascii"), buffer, ctypes.byref(size), None, ctypes.c_size_t(0)
    )
    if status != 0 or size.value not in (1, 2, 4, 8):
        return None
    return int.from_bytes(buffer.raw[: size.value], "little", signed=True)


def _psutil_has_battery() -> bool | None:
    """Windows and macOS: psutil asks the OS in process (GetSystemPowerStatus, IOKit)."""
    import psutil

    return psutil.sensors_battery() is not None


def _psutil_total_memory() -> int | None:
    import psutil

    return int(psutil.virtual_memory().total)


DISPLAY_CLASS_GUID = "{4d36e968-e325-11ce-bfc1-08002be10318}"


def _windows_display_device_ids() -> Sequence[str]:
    """Present display-class device instance ids, e.g. ``PCI\\VEN_10DE&DEV_2684&SUBSYS_...``."""
    if sys.platform != "win32":
        return ()
    try:
        return _cfgmgr32_display_device_ids()
    except (OSError, AttributeError):  # no cfgmgr32, or an export missing from it
        return _registry_display_device_ids()


def _cfgmgr32_display_device_ids() -> Sequence[str]:
    if sys.platform != "win32":
        return ()
    import ctypes
    from ctypes import wintypes

    cfgmgr32 = ctypes.WinDLL("cfgmgr32")
    size_of_list = cfgmgr32.CM_Get_Device_ID_List_SizeW
    size_of_list.argtypes = [ctypes.POINTER(wintypes.ULONG), wintypes.LPCWSTR, wintypes.ULONG]
    size_of_list.restype = wintypes.DWORD
    get_list = cfgmgr32.CM_Get_Device_ID_ListW
    get_list.argtypes = [wintypes.LPCWSTR, wintypes.LPWSTR, wintypes.ULONG, wintypes.ULONG]
    get_list.restype = wintypes.DWORD
    # CM_GETIDLIST_FILTER_CLASS | CM_GETIDLIST_FILTER_PRESENT: this class, plugged in now.
    flags = 0x00000200 | 0x00000100
    length = wintypes.ULONG(0)
    if size_of_list(ctypes.byref(length), DISPLAY_CLASS_GUID, flags) != 0:
        raise OSError("CM_Get_Device_ID_List_SizeW failed")
    buffer = ctypes.create_unicode_buffer(max(length.value, 1))
    if get_list(DISPLAY_CLASS_GUID, buffer, length, flags) != 0:
        raise OSError("CM_Get_Device_ID_ListW failed")
    # A double-NUL-terminated list of NUL-separated ids.
    listing = ctypes.wstring_at(buffer, length.value)
    return [item for item in listing.split("\0") if item]


def _registry_display_device_ids() -> Sequence[str]:
    """Fallback: ``MatchingDeviceId`` of each driver under the display class key."""
    if sys.platform != "win32":
        return ()
    import winreg

    found: list[str] = []
    class_key = rf"SYSTEM\CurrentControlSet\Control\Class\{DISPLAY_CLASS_GUID}"
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, class_key) as key:
        index = 0
        while True:
            try:
                name = winreg.EnumKey(key, index)
            except OSError:
                break
            index += 1
            try:
                with winreg.OpenKey(key, name) as driver:
                    value, _kind = winreg.QueryValueEx(driver, "MatchingDeviceId")
            except OSError:
                continue  # "Properties" is access-denied; drivers without the value
            if isinstance(value, str):
                found.append(value)
    return found


def _windows_native_machine() -> str | None:
    """The machine's own architecture, also for x64 Python emulated on Windows on Arm."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32")
    is_wow64_process2 = getattr(kernel32, "IsWow64Process2", None)
    if is_wow64_process2 is None:  # before Windows 10 1709: no Arm64 Windows either
        return None
    # Explicit types: the pseudo-handle -1 must reach the call as a 64-bit HANDLE.
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    kernel32.GetCurrentProcess.argtypes = []
    is_wow64_process2.argtypes = [
        wintypes.HANDLE, ctypes.POINTER(wintypes.USHORT), ctypes.POINTER(wintypes.USHORT)
    ]
    is_wow64_process2.restype = wintypes.BOOL
    process_machine = wintypes.USHORT(0)
    native_machine = wintypes.USHORT(0)
    if not is_wow64_process2(
        kernel32.GetCurrentProcess(), ctypes.byref(process_machine), ctypes.byref(native_machine)
    ):
        return None
    return {0x8664: "AMD64", 0xAA64: "ARM64"}.get(native_machine.value)


def _windows_smbios_table() -> bytes | None:
    """The raw SMBIOS tables (``GetSystemFirmwareTable('RSMB')``), for the chassis type."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32")
    get_table = kernel32.GetSystemFirmwareTable
    get_table.argtypes = [wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD]
    get_table.restype = wintypes.UINT
    provider = int.from_bytes(b"RSMB", "big")  # the 'RSMB' provider: raw SMBIOS
    size = get_table(provider, 0, None, 0)
    if size <= 0:
        return None
    buffer = ctypes.create_string_buffer(size)
    if get_table(provider, 0, buffer, size) != size:
        return None
    return buffer.raw


def _windows_time_zone_key() -> str | None:
    if sys.platform != "win32":
        return None
    import winreg

    path = r"SYSTEM\CurrentControlSet\Control\TimeZoneInformation"
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
        value, _kind = winreg.QueryValueEx(key, "TimeZoneKeyName")
    return value if isinstance(value, str) else None


def _this_machine_arch() -> str:
    if sys.platform != "win32":
        return os.uname().machine
    # Windows: no uname. The variables give the process's view; the native one, when
    # it differs (x64 Python on Windows on Arm), comes from windows_native_machine.
    return os.environ.get("PROCESSOR_ARCHITEW6432") or os.environ.get(
        "PROCESSOR_ARCHITECTURE", ""
    )


@dataclass(frozen=True)
class SystemView:
    """Everything detection looks at. :meth:`this_machine` is the real one.

    ``root`` stands for ``/``: sysfs, procfs, ``/etc`` and ``/dev`` are read below it.
    The callables are the probes that cannot be files: in-process OS calls on Windows
    and macOS, the CPU count, and (off Linux) memory and battery. A probe that fails
    costs only its own fact.
    """

    sys_platform: str
    machine: str
    env: Mapping[str, str]
    root: Path = Path("/")
    cpu_count: Callable[[], int | None] = os.cpu_count
    memory_bytes: Callable[[], int | None] = _psutil_total_memory  # not Linux
    has_battery: Callable[[], bool | None] = _psutil_has_battery  # not Linux
    macos_sysctl_int: Callable[[str], int | None] = _macos_sysctl_int
    windows_display_device_ids: Callable[[], Sequence[str]] = _windows_display_device_ids
    windows_native_machine: Callable[[], str | None] = _windows_native_machine
    windows_smbios_table: Callable[[], bytes | None] = _windows_smbios_table
    windows_time_zone_key: Callable[[], str | None] = _windows_time_zone_key

    @classmethod
    def this_machine(cls) -> SystemView:
        return cls(sys_platform=sys.platform, machine=_this_machine_arch(), env=os.environ)


# --- detection --------------------------------------------------------------------------


def detect_machine(view: SystemView | None = None) -> MachineFacts:
    """This machine's facts: local, in process, no network. Never raises.

    Each fact falls back to its safe default on its own: ``other``, ``desktop``,
    ``none``, ``unknown``.
    """
    try:
        view = SystemView.this_machine() if view is None else view
        kind = _os_kind(view.sys_platform)
    except Exception:
        return SAFE_DEFAULTS
    platform = _guarded(lambda: detect_platform(view), Platform.OTHER)
    adapters: Sequence[PciFunction] = _guarded(lambda: display_adapters(view, kind), ())
    gpu = _guarded(lambda: _gpu_vendor(view, kind, platform, adapters), GpuVendor.NONE)
    tier = _guarded(lambda: _hardware_tier(view, kind, adapters), HardwareTier.DESKTOP)
    region = _guarded(lambda: _region(view, kind), Region.UNKNOWN)
    return MachineFacts(
        platform=platform, hardware_tier=tier, gpu_vendor=gpu, region_indicator=region
    )


_T = TypeVar("_T")


def _guarded(probe: Callable[[], _T], default: _T) -> _T:
    # Detection must never cost the user their session: any surprise is the default.
    try:
        return probe()
    except Exception:
        return default


def _os_kind(sys_platform: str) -> str:
    if sys_platform.startswith("linux"):
        return "linux"
    if sys_platform == "darwin":
        return "macos"
    if sys_platform in ("win32", "cygwin", "msys"):
        return "windows"
    return "other"


_ARCHES = {"x86_64": "x64", "amd64": "x64", "x64": "x64", "aarch64": "arm64", "arm64": "arm64"}

_PLATFORMS = {
    ("linux", "x64"): Platform.LINUX_X64,
    ("linux", "arm64"): Platform.LINUX_ARM64,
    ("macos", "x64"): Platform.MACOS_X64,
    ("macos", "arm64"): Platform.MACOS_ARM64,
    ("windows", "x64"): Platform.WINDOWS_X64,
    ("windows", "arm64"): Platform.WINDOWS_ARM64,
}


def detect_platform(view: SystemView) -> Platform:
    kind = _os_kind(view.sys_platform)
    machine = view.machine
    if kind == "windows":
        machine = _guarded(view.windows_native_machine, None) or machine
    arch = _ARCHES.get(machine.strip().lower())
    if kind == "macos" and arch == "x64" and _is_apple_silicon(view):
        arch = "arm64"  # x86_64 Python under Rosetta 2 on an Apple silicon Mac
    if arch is None:
        return Platform.OTHER
    return _PLATFORMS.get((kind, arch), Platform.OTHER)


def _is_apple_silicon(view: SystemView) -> bool:
    # hw.optional.arm64 is 1 on Apple silicon whoever asks; proc_translated is 1 for a
    # process under Rosetta. Either settles it; both absent means an Intel Mac.
    return any(_sysctl(view, name) == 1 for name in ("hw.optional.arm64", "sysctl.proc_translated"))


def _sysctl(view: SystemView, name: str) -> int | None:
    return _guarded(lambda: view.macos_sysctl_int(name), None)


# --- GPU ---------------------------------------------------------------------------------


def display_adapters(view: SystemView, kind: str) -> Sequence[PciFunction]:
    """The PCI display and accelerator functions of this machine (Linux and Windows)."""
    if kind == "linux":
        return linux_pci_display_functions(view.root)
    if kind == "windows":
        ids = view.windows_display_device_ids()
        return [fn for fn in (parse_windows_device_id(item) for item in ids) if fn is not None]
    return ()


def linux_pci_display_functions(root: Path) -> list[PciFunction]:
    """Display-class (and accelerator-class) PCI functions from sysfs; no process spawned."""
    devices_dir = os.path.join(root, "sys", "bus", "pci", "devices")
    try:
        names = os.listdir(devices_dir)[:_MAX_PCI_FUNCTIONS]
    except (OSError, ValueError):
        return []
    found: list[PciFunction] = []
    for name in names:
        device_dir = os.path.join(devices_dir, name)
        pci_class = _read_hex(os.path.join(device_dir, "class"))
        if pci_class is None:
            continue
        pci_class >>= 8  # drop the programming interface: 0x030000 -> 0x0300
        if pci_class not in DISPLAY_CLASSES and pci_class != ACCELERATOR_CLASS:
            continue
        vendor = _read_hex(os.path.join(device_dir, "vendor"))
        if vendor is None:
            continue
        found.append(
            PciFunction(
                vendor=vendor,
                device=_read_hex(os.path.join(device_dir, "device")),
                pci_class=pci_class,
                subsystem_vendor=_read_hex(os.path.join(device_dir, "subsystem_vendor")),
            )
        )
    return found


def parse_windows_device_id(device_id: str) -> PciFunction | None:
    """``PCI\\VEN_10DE&DEV_2684&SUBSYS_16F110DE&REV_A1\\4&...`` → ids; not PCI → ``None``.

    Windows lists it under the display class, so its class counts as a display class
    (a compute-only 3D controller is in that class too).
    """
    bus, _, rest = device_id.strip().partition("\\")
    if bus.upper() != "PCI":
        return None  # ROOT\BasicDisplay, VMBUS\..., ACPI\QCOM... : not a PCI GPU
    hardware_id = rest.split("\\", 1)[0]
    parts: dict[str, str] = {}
    for piece in hardware_id.split("&"):
        key, sep, value = piece.partition("_")
        if sep:
            parts[key.upper()] = value
    vendor = _hex_or_none(parts.get("VEN", ""), digits=4)
    if vendor is None:
        return None
    subsystem = parts.get("SUBSYS", "")
    # SUBSYS_ssssvvvv: subsystem device id, then subsystem vendor id.
    subsystem_vendor = _hex_or_none(subsystem[4:], digits=4) if len(subsystem) == 8 else None
    return PciFunction(
        vendor=vendor,
        device=_hex_or_none(parts.get("DEV", ""), digits=4),
        pci_class=0x0300,
        subsystem_vendor=subsystem_vendor,
    )


def is_emulated_adapter(fn: PciFunction) -> bool:
    return (
        fn.vendor in VIRTUAL_ADAPTER_VENDORS
        or fn.subsystem_vendor in VIRTUAL_SUBSYSTEM_VENDORS
    )


def is_management_adapter(fn: PciFunction) -> bool:
    """A baseboard-management controller's video: the mark of a server board."""
    if fn.pci_class not in DISPLAY_CLASSES:
        return False
    if fn.vendor in MANAGEMENT_ADAPTER_VENDORS:
        return True
    if fn.vendor == PCI_VENDOR_MATROX:
        return fn.device in MATROX_G200_SERVER_DEVICES
    return fn.vendor == PCI_VENDOR_HUAWEI and fn.device == HUAWEI_IBMC_DEVICE


def gpu_vendor_of(fn: PciFunction) -> GpuVendor | None:
    """The GPU vendor this function counts for, or ``None`` when it is not a GPU."""
    if is_emulated_adapter(fn) or is_management_adapter(fn):
        return None
    vendor = GPU_VENDORS.get(fn.vendor)
    if vendor is None:
        return None
    if fn.pci_class in DISPLAY_CLASSES:
        return vendor
    if fn.pci_class == ACCELERATOR_CLASS and vendor in ACCELERATOR_GPU_VENDORS:
        return vendor
    return None


_GPU_PREFERENCE = (GpuVendor.NVIDIA, GpuVendor.AMD, GpuVendor.INTEL)


def preferred_gpu_vendor(functions: Iterable[PciFunction]) -> GpuVendor:
    """Several GPUs (a laptop's iGPU and dGPU): nvidia > amd > intel."""
    vendors = {gpu_vendor_of(fn) for fn in functions}
    for vendor in _GPU_PREFERENCE:
        if vendor in vendors:
            return vendor
    return GpuVendor.NONE


#: Libraries the NVIDIA Windows driver maps into WSL2 (``/usr/lib/wsl/lib``).
WSL_NVIDIA_LIBRARIES = ("libcuda.so", "libcuda.so.1", "libnvidia-ml.so.1")


def wsl_gpu_vendor(root: Path) -> GpuVendor:
    """WSL2: ``/dev/dxg`` is the host's GPU, but only a vendor library says whose."""
    if not os.path.exists(os.path.join(root, "dev", "dxg")):
        return GpuVendor.NONE
    library_dir = os.path.join(root, "usr", "lib", "wsl", "lib")
    for library in WSL_NVIDIA_LIBRARIES:
        if os.path.isfile(os.path.join(library_dir, library)):
            return GpuVendor.NVIDIA
    return GpuVendor.NONE


def _gpu_vendor(
    view: SystemView, kind: str, platform: Platform, adapters: Sequence[PciFunction]
) -> GpuVendor:
    if kind == "macos":
        return GpuVendor.APPLE if platform is Platform.MACOS_ARM64 else GpuVendor.NONE
    vendor = preferred_gpu_vendor(adapters)
    if vendor is GpuVendor.NONE and kind == "linux":
        vendor = wsl_gpu_vendor(view.root)
    return vendor


# --- tier -----------------------------------------------------------------------------


def classify_tier(
    *,
    has_battery: bool,
    chassis_type: int | None,
    management_adapter: bool,
    memory_bytes: int | None,
    logical_cpus: int | None,
) -> HardwareTier:
    """DESIGN.md's rules, first match wins; an unknown fact matches nothing."""
    memory = memory_bytes or 0
    cpus = logical_cpus or 0
    if has_battery or chassis_type in PORTABLE_CHASSIS:
        return HardwareTier.LAPTOP
    if (
        chassis_type in SERVER_CHASSIS
        or management_adapter
        or memory >= SERVER_MEMORY_BYTES
        or cpus >= SERVER_LOGICAL_CPUS
    ):
        return HardwareTier.SERVER
    if memory >= WORKSTATION_MEMORY_BYTES or cpus >= WORKSTATION_LOGICAL_CPUS:
        return HardwareTier.WORKSTATION
    return HardwareTier.DESKTOP


def _hardware_tier(view: SystemView, kind: str, adapters: Sequence[PciFunction]) -> HardwareTier:
    if kind == "linux":
        battery = linux_has_battery(view.root)
        chassis = linux_chassis_type(view.root)
        memory = linux_memory_bytes(view.root)
    elif kind in ("windows", "macos"):
        battery = bool(_guarded(view.has_battery, None))
        chassis = (
            smbios_chassis_type(_guarded(view.windows_smbios_table, None) or b"")
            if kind == "windows"
            else None
        )
        memory = (
            _sysctl(view, "hw.memsize") if kind == "macos" else _guarded(view.memory_bytes, None)
        )
    else:
        battery, chassis, memory = False, None, None
    return classify_tier(
        has_battery=battery,
        chassis_type=chassis,
        management_adapter=any(is_management_adapter(fn) for fn in adapters),
        memory_bytes=memory,
        logical_cpus=_guarded(view.cpu_count, None),
    )


def linux_has_battery(root: Path) -> bool:
    """A system battery; a wireless mouse's (``scope`` ``Device``) does not make a laptop."""
    supplies_dir = os.path.join(root, "sys", "class", "power_supply")
    try:
        names = os.listdir(supplies_dir)[:256]
    except (OSError, ValueError):
        return False
    for name in names:
        supply = os.path.join(supplies_dir, name)
        if _read_text(os.path.join(supply, "type")) != "Battery":
            continue
        if _read_text(os.path.join(supply, "scope")) == "Device":
            continue
        return True
    return False


def linux_chassis_type(root: Path) -> int | None:
    text = _read_text(os.path.join(root, "sys", "class", "dmi", "id", "chassis_type"))
    return _small_int(text)


def linux_memory_bytes(root: Path) -> int | None:
    """``MemTotal`` from ``/proc/meminfo`` (psutil reads the same line, slower)."""
    text = _read_text(os.path.join(root, "proc", "meminfo"))
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                unit = fields[2].lower() if len(fields) > 2 else "kb"
                return int(fields[1]) * (1024 if unit == "kb" else 1)
            return None
    return None


def smbios_chassis_type(table: bytes) -> int | None:
    """The chassis type from raw SMBIOS data (Windows' ``RSMB`` layout: 8-byte header).

    Walks the structures to the first of type 3 (System Enclosure); the type is the
    byte at offset 5, its top bit being the "lock present" flag.
    """
    header = 8
    offset = header
    while offset + 4 <= len(table):
        kind, length = table[offset], table[offset + 1]
        if length < 4:
            return None  # malformed: a structure is at least its 4-byte header
        if kind == 3:
            if length > 5 and offset + 5 < len(table):
                return table[offset + 5] & 0x7F
            return None
        if kind == 127:  # end-of-table
            return None
        # The formatted area is followed by strings, ended by a double NUL.
        end = table.find(b"\0\0", offset + length)
        if end < 0:
            return None
        offset = end + 2
    return None


# --- region ------------------------------------------------------------------------


def _region(view: SystemView, kind: str) -> Region:
    windows_key = view.windows_time_zone_key if kind == "windows" else None
    return local_region(view.env, view.root, windows_key)


# --- small readers ---------------------------------------------------------------------


def _read_text(path: str) -> str | None:
    raw = read_small_file(path, _MAX_READ)
    return None if raw is None else raw.decode("ascii", errors="replace").strip()


def _read_hex(path: str) -> int | None:
    text = _read_text(path)
    if text is None:
        return None
    return _hex_or_none(text[2:] if text.lower().startswith("0x") else text, digits=8)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DECIMAL_DIGITS = frozenset("0123456789")


def _hex_or_none(text: str, digits: int) -> int | None:
    # Strict: int(text, 16) would also take "+1f", "1_f" and surrounding blanks.
    if not text or len(text) > digits or not set(text) <= _HEX_DIGITS:
        return None
    return int(text, 16)


def _small_int(text: str | None) -> int | None:
    if not text or len(text) > 3 or not set(text) <= _DECIMAL_DIGITS:
        return None
    return int(text)
