"""The web console's files (static/: index.html, ES modules, stylesheet), served by `hubnet.server.api.ui` at /ui.

Plain files, no build step and nothing from a CDN: the console works on a management network without internet.
Every data call the console makes is the documented REST API (docs/api.md), with the admin token the user typed.
"""
