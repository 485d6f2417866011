#!/bin/sh
# The test sshd's ForceCommand: log the command the client asked for to the file given, then run it as asked.
printf '%s\n' "$SSH_ORIGINAL_COMMAND" >> "$1"
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
