"""The codec's own exception type: every error a user can cause is one of these."""


class CodecError(Exception):
    """A problem with the user's input (file, option, bitstream), described in one line.

    The CLI prints the message and exits non-zero; library callers can catch this one type
    instead of the zoo of errors raised by Pillow, torch and constriction.
    """
