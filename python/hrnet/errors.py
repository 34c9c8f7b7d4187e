"""Status codes and the exception raised when a libhrnet call fails."""

import enum

from . import _lib


class Status(enum.IntEnum):
    """hrnet_status values (include/hrnet.h)."""
    OK = 0
    ERR_INVALID_ARGUMENT = 1
    ERR_IO = 2
    ERR_FORMAT = 3
    ERR_MODEL = 4
    ERR_BUFFER_TOO_SMALL = 5
    ERR_OUT_OF_MEMORY = 6
    ERR_INTERNAL = 7


def status_string(status):
    """The library's constant name of a status, e.g. "HRNET_ERR_FORMAT"."""
    return _lib.decode(_lib.lib.hrnet_status_string(int(status)))


class HRNetError(Exception):
    """A libhrnet call returned a status other than HRNET_OK.

    Attributes: ``status`` (a :class:`Status`, an ``int``), ``status_name`` (the library's name
    for it, e.g. ``"HRNET_ERR_FORMAT"``) and ``message`` (the library's hrnet_last_error text,
    which is also ``str(error)``; the status name if the library gave no text).
    """

    def __init__(self, status, message):
        try:
            status = Status(status)
        except ValueError:
            status = int(status)
        self.status = status
        self.status_name = status_string(status)
        self.message = message
        super().__init__(message if message else self.status_name)

    def __repr__(self):
        return "HRNetError(%s, %r)" % (self.status_name, self.message)

    def __reduce__(self):
        return (type(self), (int(self.status), self.message))


def check(status, session_ptr=None):
    """Raise HRNetError for a failed status.

    The message comes from hrnet_last_error(session) for calls on a session, else from
    hrnet_last_error(NULL) (the calling thread's last session-less failure).
    """
    if status == Status.OK:
        return
    ptr = session_ptr if session_ptr else None
    message = _lib.decode(_lib.lib.hrnet_last_error(ptr))
    raise HRNetError(status, message)
