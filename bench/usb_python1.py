"""bench/usb_python1.py - the same work as usb_ausb.c in python-libusb1
(Debian python3-usb1), what users of the ausb seed run today: N bulk IN
transfers of 512 bytes, DEPTH in flight, resubmitted from the callback.

    python3 usb_python1.py N [DEPTH [EP]]
"""
import sys
import usb1

LEN = 512


def main():
    want = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    ep = int(sys.argv[3], 16) if len(sys.argv) > 3 else 0x88
    state = {"submitted": 0, "completed": 0, "bytes": 0, "errors": 0}

    def on_done(transfer):
        state["completed"] += 1
        if transfer.getStatus() != usb1.TRANSFER_COMPLETED:
            state["errors"] += 1
        state["bytes"] += transfer.getActualLength()
        if state["submitted"] < want:
            state["submitted"] += 1
            transfer.submit()

    with usb1.USBContext() as ctx:
        handle = ctx.openByVendorIDAndProductID(0x1234, 0x0001)
        if handle is None:
            print("usb_python1: no fake device", file=sys.stderr)
            return 1
        transfers = []
        for _ in range(min(depth, want)):
            t = handle.getTransfer()
            t.setBulk(ep, LEN, callback=on_done, timeout=1000)
            state["submitted"] += 1
            t.submit()
            transfers.append(t)
        while state["completed"] < want and not state["errors"]:
            ctx.handleEvents()
        for t in transfers:
            t.close()
        handle.close()
    print("completed %d bytes %d errors %d" % (state["completed"], state["bytes"], state["errors"]))
    return 1 if state["errors"] or state["completed"] != want else 0


if __name__ == "__main__":
    sys.exit(main())
