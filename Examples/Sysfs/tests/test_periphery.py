"""python-periphery (PyPI, unmodified) drives sysfs-fuse's GPIO, LED and PWM classes through
its own API, in a private mount namespace where the tree is mounted over /sys/class/{gpio,leds,pwm}.

Run by run.sh under `unshare -m --propagation private`; never on the host's /sys.
"""
import errno
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from periphery import GPIO, GPIOError, LED, PWM, PWMError

SYSFS_FUSE = os.environ["SYSFS_FUSE"]
daemon = None
mountpoint = None
CONTROL = None


def sh(*argv):
    subprocess.run(argv, check=True)


def setUpModule():
    global daemon, mountpoint, CONTROL
    if os.environ.get("SYSFS_IN_NAMESPACE") != "1":
        raise unittest.SkipTest("not in a private mount namespace (run run.sh)")
    mountpoint = tempfile.mkdtemp(prefix="sysfs-fuse-")
    daemon = subprocess.Popen([SYSFS_FUSE, mountpoint], stdout=subprocess.PIPE, text=True)
    line = daemon.stdout.readline()
    assert line.startswith("sysfs-fuse: serving"), line
    CONTROL = mountpoint + "/control"
    # /sys/class has no gpio, leds or pwm directories here: a tmpfs over it, in this namespace only.
    sh("mount", "-t", "tmpfs", "sysfs-fuse-class", "/sys/class")
    for name in ("gpio", "leds", "pwm"):
        os.mkdir("/sys/class/" + name)
        sh("mount", "--bind", f"{mountpoint}/class/{name}", "/sys/class/" + name)


def tearDownModule():
    if daemon is None:
        return
    for path in ("/sys/class/gpio", "/sys/class/leds", "/sys/class/pwm", "/sys/class"):
        subprocess.run(["umount", "-l", path])
    daemon.terminate()
    daemon.wait(timeout=15)
    os.rmdir(mountpoint)


def control(path, text):
    with open(f"{CONTROL}/{path}", "w") as f:
        f.write(text)


def write_errno(path, text):
    """The errno of one write(2) of `text` to `path`, or 0."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


def later(seconds, action):
    thread = threading.Timer(seconds, action)
    thread.start()
    return thread


class GPIOTests(unittest.TestCase):
    def test_output_line_export_direction_value_unexport(self):
        gpio = GPIO(17, "out")
        try:
            self.assertTrue(os.path.islink("/sys/class/gpio/gpio17/device"))
            self.assertEqual(gpio.direction, "out")
            self.assertEqual(gpio.chip_name, "gpiochip0")
            self.assertEqual(gpio.chip_label, "sysfs-fuse-a")
            self.assertFalse(gpio.read())
            gpio.write(True)
            self.assertTrue(gpio.read())
            with open("/sys/class/gpio/gpio17/value") as f:
                self.assertEqual(f.read(), "1\n")
            gpio.inverted = True
            self.assertTrue(gpio.inverted)
            self.assertFalse(gpio.read())
            gpio.direction = "high"     # raw high, as gpiod_direction_output_raw: inverted reads 0
            self.assertFalse(gpio.read())
        finally:
            gpio.close()
        self.assertFalse(os.path.exists("/sys/class/gpio/gpio17"))

    def test_edge_poll_is_woken_by_an_outside_change(self):
        gpio = GPIO(5, "in")
        try:
            gpio.edge = "rising"
            self.assertEqual(gpio.edge, "rising")
            self.assertFalse(gpio.poll(0.1), "no edge yet")
            timer = later(0.2, lambda: control("gpio/line5/input", "1"))
            started = time.monotonic()
            self.assertTrue(gpio.poll(5), "a rising edge wakes poll(POLLPRI|POLLERR)")
            self.assertGreater(time.monotonic() - started, 0.1)
            timer.join()
            self.assertTrue(gpio.read())
            self.assertFalse(gpio.poll(0.1), "reading re-arms")
            control("gpio/line5/input", "0")
            self.assertFalse(gpio.poll(0.2), "a falling edge is not selected")
            gpio.edge = "both"
            control("gpio/line5/input", "1")
            self.assertTrue(gpio.poll(1))
        finally:
            gpio.close()

    def test_wired_output_wakes_an_input(self):
        output, input_ = GPIO(20, "out"), GPIO(21, "in")
        try:
            control("wire", "20 21")
            input_.edge = "both"
            later(0.1, lambda: output.write(True)).join()
            self.assertTrue(input_.poll(5))
            self.assertTrue(input_.read())
        finally:
            control("unwire", "20 21")
            output.close()
            input_.close()

    def test_errors_as_the_kernel_answers(self):
        with self.assertRaises(GPIOError) as caught:
            GPIO(99, "in")
        self.assertEqual(caught.exception.errno, errno.EINVAL, "a line no chip has")
        gpio = GPIO(6, "in")
        try:
            self.assertEqual(write_errno("/sys/class/gpio/export", "6\n"), errno.EBUSY)
            with self.assertRaises(GPIOError) as caught:
                gpio.write(True)
            self.assertEqual(caught.exception.errno, errno.EPERM, "value on an input")
            self.assertEqual(write_errno("/sys/class/gpio/gpio6/direction", "sideways\n"), errno.EINVAL)
            self.assertEqual(write_errno("/sys/class/gpio/gpio6/direction", "in\n\n"), errno.EINVAL, "sysfs_streq")
            self.assertEqual(write_errno("/sys/class/gpio/gpio6/direction", "in\n"), 0)
            self.assertEqual(write_errno("/sys/class/gpio/gpio6/active_low", "0x1\n"), 0, "kstrtol base 0")
            self.assertEqual(write_errno("/sys/class/gpio/gpio6/active_low", "99999999999999999999"), errno.ERANGE)
            self.assertEqual(write_errno("/sys/class/gpio/export", "x" * 5000), errno.E2BIG)
            fd = os.open("/sys/class/gpio/gpio6/value", os.O_RDONLY)
            self.assertEqual(write_errno("/sys/class/gpio/unexport", "6"), 0)
            with self.assertRaises(OSError) as caught:
                os.pread(fd, 8, 0)
            self.assertEqual(caught.exception.errno, errno.ENODEV, "a handle of a removed line")
            os.close(fd)
            self.assertEqual(write_errno("/sys/class/gpio/unexport", "6"), errno.EINVAL, "not exported")
        finally:
            with self.assertRaises(GPIOError) as caught:
                gpio.close()        # its unexport: the line is no longer exported
            self.assertEqual(caught.exception.errno, errno.EINVAL)
        lines = GPIO(33, "out")
        try:
            self.assertFalse(os.path.exists("/sys/class/gpio/gpio33/edge"), "a line that cannot interrupt")
        finally:
            lines.close()

    def test_udev_may_chgrp_and_chmod(self):
        gpio = GPIO(7, "in")
        try:
            path = "/sys/class/gpio/gpio7/value"
            os.chown(path, -1, 20)
            os.chmod(path, 0o664)
            info = os.stat(path)
            self.assertEqual((info.st_gid, info.st_mode & 0o777), (20, 0o664))
            with self.assertRaises(PermissionError):
                os.chmod("/sys/class/gpio/export", 0o222)
        finally:
            gpio.close()

    def test_select_and_poll_behave_as_on_sysfs(self):
        gpio = GPIO(8, "in")
        try:
            fd = gpio.fd
            readable, _, exceptional = select.select([fd], [], [fd], 0)
            self.assertEqual((readable, exceptional), ([fd], []), "select never blocks on readfds")
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLOUT | select.POLLPRI | select.POLLERR)
            self.assertEqual(poller.poll(0), [(fd, select.POLLIN | select.POLLOUT)])
        finally:
            gpio.close()


class LEDTests(unittest.TestCase):
    def test_brightness_and_timer_trigger(self):
        led = LED("sysfs-fuse:green:status")
        try:
            self.assertEqual(led.max_brightness, 255)
            led.write(128)
            self.assertEqual(led.read(), 128)
            led.brightness = 255
            self.assertEqual(led.brightness, 255)
            base = "/sys/class/leds/sysfs-fuse:green:status"
            self.assertEqual(write_errno(base + "/brightness", "1000\n"), 0)
            self.assertEqual(led.read(), 255, "clamped")
            self.assertFalse(os.path.exists(base + "/delay_on"))
            self.assertEqual(write_errno(base + "/trigger", "disco\n"), errno.EINVAL)
            self.assertEqual(write_errno(base + "/trigger", "timer\n"), 0)
            with open(base + "/trigger") as f:
                self.assertEqual(f.read(), "none [timer] default-on\n")
            self.assertIn("delay_on", os.listdir(base))
            with open(base + "/delay_on") as f:
                self.assertEqual(f.read(), "500\n")
            fd = os.open(base + "/delay_off", os.O_RDONLY)
            led.write(0)        # brightness 0 removes the trigger: delay_on/delay_off go
            self.assertNotIn("delay_on", os.listdir(base))
            self.assertFalse(os.path.exists(base + "/delay_off"))
            with self.assertRaises(OSError) as caught:
                os.pread(fd, 8, 0)
            self.assertEqual(caught.exception.errno, errno.ENODEV)
            os.close(fd)
        finally:
            led.close()


class PWMTests(unittest.TestCase):
    def test_period_duty_enable(self):
        pwm = PWM(0, 1)
        try:
            pwm.period_ns = 1_000_000
            pwm.duty_cycle_ns = 250_000
            self.assertEqual(pwm.period_ns, 1_000_000)
            self.assertAlmostEqual(pwm.duty_cycle, 0.25)
            self.assertAlmostEqual(pwm.frequency, 1000.0)
            pwm.polarity = "inversed"
            pwm.enable()
            self.assertTrue(pwm.enabled)
            with self.assertRaises(OSError) as caught:
                pwm.duty_cycle_ns = 2_000_000
            self.assertEqual(caught.exception.errno, errno.EINVAL, "duty_cycle > period")
            self.assertEqual(pwm.duty_cycle_ns, 250_000, "the failed write changed nothing")
            with self.assertRaises(OSError) as caught:
                pwm.polarity = "normal"
            self.assertEqual(caught.exception.errno, errno.EBUSY, "polarity while enabled")
            pwm.disable()
            self.assertFalse(pwm.enabled)
            self.assertEqual(write_errno("/sys/class/pwm/pwmchip0/export", "1"), errno.EBUSY)
            self.assertEqual(write_errno("/sys/class/pwm/pwmchip0/export", "2"), errno.ENODEV)
        finally:
            pwm.close()
        self.assertFalse(os.path.exists("/sys/class/pwm/pwmchip0/pwm1"))
        self.assertEqual(write_errno("/sys/class/pwm/pwmchip0/unexport", "1"), errno.ENODEV)


if __name__ == "__main__":
    unittest.main(verbosity=2)
