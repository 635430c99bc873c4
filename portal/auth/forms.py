from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, StopValidation

from .emails import MAX_EMAIL, email_problem
from .service import LENGTH_MESSAGE, MAX_PASSWORD, MIN_PASSWORD


def _at_most(limit: int, message: str):
    """Stop the chain on an over-long value: a 100k-character paste gets one clear message, fast."""
    def check(form, field):
        if field.data and len(field.data) > limit:
            raise StopValidation(message)
    return check


def _an_email_address(form, field):
    """The one rule create-user applies too (portal/auth/emails.py)."""
    problem = email_problem(field.data)
    if problem:
        raise StopValidation(problem)


def _email_field(*rules):
    return EmailField("Email", validators=[DataRequired("Enter your email address."),
                                           _at_most(MAX_EMAIL, f"An email address is at most {MAX_EMAIL} characters."),
                                           *rules])


class LoginForm(FlaskForm):
    # Looked up as typed (trimmed, lower-cased): a syntax rule here could only lock out an account that exists.
    email = _email_field()
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     _at_most(500, "A password is at most 500 characters.")])
    remember = BooleanField("Keep me signed in")


class NewPasswordForm(FlaskForm):
    """A new password typed twice; rules beyond length live in service.password_problem."""

    new_password = PasswordField("New password", validators=[
        DataRequired("Choose a new password."),
        Length(min=MIN_PASSWORD, max=MAX_PASSWORD, message=LENGTH_MESSAGE),
    ])
    confirm = PasswordField("New password again", validators=[
        DataRequired("Type the new password again."),
        EqualTo("new_password", "The two new passwords do not match."),
    ])


class PasswordChangeForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[
        DataRequired("Enter your current password."),
        _at_most(500, "A password is at most 500 characters.")])


class ResetRequestForm(FlaskForm):
    email = _email_field(_an_email_address)
