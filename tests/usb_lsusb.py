#!/usr/bin/env python3
"""tests/usb_lsusb.py - compares `ausb dev-info` with `lsusb -v` field by field.

    usb_lsusb.py AUSB_OUTPUT LSUSB_OUTPUT

Both files describe the same device. Every field that dev-info prints is
checked against the descriptor field lsusb shows for it: bus and device
number, ids, bcdDevice, bcdUSB, the class triple, the size of endpoint 0,
and per configuration / interface / alternate setting / endpoint the
numbers, classes, transfer type, direction, packet size, multiplier and
bInterval.  Prints one line per mismatch and "N fields, N mismatches".
"""
import re
import sys


def parse_ausb(text):
    dev = {"configs": []}
    cfg = iface = alt = None
    for line in text.splitlines():
        m = re.match(r"Bus (\d+) Device (\d+): ID ([0-9a-f]{4}):([0-9a-f]{4}) v\.([0-9a-f]{4}) usb v\.([0-9a-f]{4}) speed (\S+)$", line)
        if m:
            dev.update(bus=int(m[1]), address=int(m[2]), vid=m[3], pid=m[4], bcd_device=m[5], bcd_usb=m[6], speed=m[7])
            continue
        m = re.match(r"  Device classes: ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})$", line)
        if m:
            dev["classes"] = (int(m[1], 16), int(m[2], 16), int(m[3], 16))
            continue
        m = re.match(r"  Control Endpoint 00, MPS=(\d+)$", line)
        if m:
            dev["mps0"] = int(m[1])
            continue
        m = re.match(r"  Configuration #(\d+)$", line)
        if m:
            cfg = {"value": int(m[1]), "interfaces": []}
            dev["configs"].append(cfg)
            continue
        m = re.match(r"    Interface #(\d+)$", line)
        if m:
            iface = {"number": int(m[1]), "alts": []}
            cfg["interfaces"].append(iface)
            continue
        m = re.match(r"      Alternate Setting (\d+), class ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})$", line)
        if m:
            alt = {"alt": int(m[1]), "classes": (int(m[2], 16), int(m[3], 16), int(m[4], 16)), "eps": []}
            iface["alts"].append(alt)
            continue
        m = re.match(r"        (Control|Isochronous|Bulk|Interrupt) (In|Out) Endpoint ([0-9a-f]{2}), MPS=(\d+)(?:x(\d+))?, interval=(\d+)$", line)
        if m:
            alt["eps"].append({"type": m[1], "dir": m[2], "address": int(m[3], 16), "mps": int(m[4]),
                               "mult": int(m[5]) if m[5] else 1, "interval": int(m[6])})
            continue
        raise SystemExit("unexpected dev-info line: %r" % line)
    return dev


def num(text):
    return int(text, 16) if text.startswith("0x") else int(text)


def parse_lsusb(text):
    dev = {"configs": []}
    cfg = iface = ep = None
    section = None
    for line in text.splitlines():
        m = re.match(r"Bus (\d+) Device (\d+): ID ([0-9a-f]{4}):([0-9a-f]{4})", line)
        if m:
            dev.update(bus=int(m[1]), address=int(m[2]), vid=m[3], pid=m[4])
            continue
        s = line.strip()
        if s.endswith(":") and not re.match(r"^[bwi][A-Z]", s):
            if s.startswith("Device Descriptor"):
                section = None
            elif s.startswith("Configuration Descriptor"):
                cfg = {"interfaces": []}
                dev["configs"].append(cfg)
                section = "config"
            elif s.startswith("Interface Descriptor"):
                iface = {"eps": []}
                cfg["interfaces"].append(iface)
                section = "interface"
            elif s.startswith("Endpoint Descriptor"):
                ep = {}
                iface["eps"].append(ep)
                section = "endpoint"
            else:
                section = "other"   # class-specific, IAD, qualifier, BOS, status...
            continue
        parts = s.split()
        if len(parts) < 2:
            continue
        key, val = parts[0], parts[1]
        if section is None:
            if key in ("bcdUSB", "bcdDevice"):
                a, b = val.split(".")
                dev[key] = "%02x%02x" % (int(a, 16), int(b, 16))
            elif key in ("bDeviceClass", "bDeviceSubClass", "bDeviceProtocol", "bMaxPacketSize0"):
                dev[key] = num(val)
        elif section == "config" and key == "bConfigurationValue":
            cfg["value"] = num(val)
        elif section == "interface" and key in ("bInterfaceNumber", "bAlternateSetting", "bInterfaceClass",
                                                 "bInterfaceSubClass", "bInterfaceProtocol"):
            iface[key] = num(val)
        elif section == "endpoint":
            if key == "bEndpointAddress":
                ep["address"] = num(val)
            elif key == "Transfer" and parts[1] == "Type":
                ep["type"] = parts[2]
            elif key == "wMaxPacketSize":
                raw = num(val)
                ep["mps"] = raw & 0x7ff
                ep["hb"] = ((raw >> 11) & 3) + 1
            elif key == "bInterval":
                ep["interval"] = num(val)
            elif key == "bMaxBurst":
                ep["burst"] = num(val) + 1
            elif key == "Mult":
                ep["ss_mult"] = num(val) + 1
    return dev


SPEEDS = {"1.5": 1, "12": 2, "480": 3, "5000": 4, "10000": 5}


def compare(a, l):
    checks = []

    def check(what, mine, theirs):
        checks.append((what, mine, theirs))

    for k in ("bus", "address", "vid", "pid"):
        check(k, a.get(k), l.get(k))
    check("bcdDevice", a.get("bcd_device"), l.get("bcdDevice"))
    check("bcdUSB", a.get("bcd_usb"), l.get("bcdUSB"))
    check("device class triple", a.get("classes"),
          (l.get("bDeviceClass"), l.get("bDeviceSubClass"), l.get("bDeviceProtocol")))
    mps0 = l.get("bMaxPacketSize0")
    if mps0 is not None and l.get("bcdUSB", "0000") >= "0300":
        mps0 = 1 << mps0
    check("ep0 MPS", a.get("mps0"), mps0)
    check("configuration count", len(a["configs"]), len(l["configs"]))
    superspeed = SPEEDS.get(a.get("speed"), 0) >= 4
    highspeed = a.get("speed") == "480"
    for ci, (ac, lc) in enumerate(zip(a["configs"], l["configs"])):
        check("config %d value" % ci, ac["value"], lc.get("value"))
        # lsusb lists alternate settings as separate interface descriptors
        lalts = lc["interfaces"]
        aalts = [(i["number"], alt) for i in ac["interfaces"] for alt in i["alts"]]
        check("config %d alt setting count" % ci, len(aalts), len(lalts))
        for (number, alt), li in zip(aalts, lalts):
            tag = "config %d if %d alt %d" % (ci, number, alt["alt"])
            check(tag + " number", number, li.get("bInterfaceNumber"))
            check(tag + " alt", alt["alt"], li.get("bAlternateSetting"))
            check(tag + " classes", alt["classes"],
                  (li.get("bInterfaceClass"), li.get("bInterfaceSubClass"), li.get("bInterfaceProtocol")))
            check(tag + " endpoint count", len(alt["eps"]), len(li["eps"]))
            for ae, le in zip(alt["eps"], li["eps"]):
                et = tag + " ep %02x" % ae["address"]
                check(et + " address", ae["address"], le.get("address"))
                check(et + " type", ae["type"], le.get("type"))
                check(et + " direction", ae["dir"], "In" if le.get("address", 0) & 0x80 else "Out")
                check(et + " MPS", ae["mps"], le.get("mps"))
                periodic = ae["type"] in ("Isochronous", "Interrupt")
                if superspeed and periodic:
                    want = le.get("burst", 1) * (le.get("ss_mult", 1) if ae["type"] == "Isochronous" else 1)
                elif highspeed and periodic:
                    want = le.get("hb", 1)
                else:
                    want = 1
                check(et + " multiplier", ae["mult"], want)
                check(et + " interval", ae["interval"], le.get("interval"))
    bad = [c for c in checks if c[1] != c[2]]
    for what, mine, theirs in bad:
        print("MISMATCH %s: ausb %r, lsusb %r" % (what, mine, theirs))
    print("%d fields, %d mismatches" % (len(checks), len(bad)))
    return 1 if bad or len(checks) < 10 else 0


def main():
    with open(sys.argv[1]) as f:
        a = parse_ausb(f.read())
    with open(sys.argv[2], errors="replace") as f:
        l = parse_lsusb(f.read())
    return compare(a, l)


if __name__ == "__main__":
    sys.exit(main())
