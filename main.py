"""cdktn entry point (`cdktn synth`, or `python main.py`): load the blueprint, build the App, add stacks, synthesize."""

from mlplat.blueprint import load_or_exit
from mlplat.settings import Settings
from stacks.app import add_stacks, new_app

settings = Settings.from_env()
blueprint = load_or_exit(settings.blueprint_path)
app = new_app(settings)
add_stacks(app, blueprint, settings)
app.synth()
