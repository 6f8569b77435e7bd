"""The Marquee world and the contracts between the four roles.

Every archetype imports this package and nothing else of the repository: the dataset generator
(`shared.dataset`), the event and entity schemas (`shared.schema`), the lake layout and atomic
writes (`shared.lake`, `shared.storage`), the S3 helpers (`shared.s3`) and the settings
(`shared.settings`). Importing it has no side effects.
"""
