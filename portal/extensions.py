"""Extension singletons of the web app, bound to the app in create_app() (the database handle is store.db)."""
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
