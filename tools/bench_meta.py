# SPDX-License-Identifier: BSD-2-Clause
#
# What every bench report says of the machine it ran on: the date, the
# kernel and the CPUs. Imported by tools/compare-report.py and
# tools/figures-report.py (they run with tools/ on sys.path).
import os
import platform
import time


def host_meta():
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                           if l.startswith("model name")), "?"),
    }
