"""Email messages every SMTP server accepts: UTF-8 text parts sent quoted-printable, no line over 76 characters."""
from email import charset as email_charset
from email.mime.text import MIMEText

from flask_mail import Message

# flask-mail 0.10 registers utf-8 with no body encoding (`charset.add_charset("utf-8", SHORTEST, None, "utf-8")`
# in flask_mail/__init__.py), so every text part went out as 8bit with its lines as long as they came: SMTP
# refuses a line over 998 characters (RFC 5321 4.5.3.1.6; aiosmtpd answers "500 Line too long"). A Charset of
# our own keeps that global registration untouched and encodes bodies quoted-printable (RFC 2045 6.7: soft line
# breaks at 76), which also keeps the text readable in a raw message, unlike base64.
QUOTED_PRINTABLE_UTF8 = email_charset.Charset("utf-8")
QUOTED_PRINTABLE_UTF8.header_encoding = email_charset.SHORTEST
QUOTED_PRINTABLE_UTF8.body_encoding = email_charset.QP


class EncodedMessage(Message):
    """A flask-mail Message whose plain and HTML parts are quoted-printable UTF-8."""

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        # flask-mail builds every text part through this one method (body, and each of `alts` such as html).
        return MIMEText(text or "", _subtype=subtype, _charset=QUOTED_PRINTABLE_UTF8)
