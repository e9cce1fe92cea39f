"""The online police surgery: residents raise concerns with their local policing team.

It contributes no watch type; case handling arrives in a later release.
"""
