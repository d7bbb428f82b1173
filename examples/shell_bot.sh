#!/bin/sh
# An echo bot in the shell: answers each incoming text through the running watui, and keeps its place.
watui=${WATUI:-watui}  # e.g. WATUI="watui --demo" on the simulator
cursor=$(cat bot.cursor 2>/dev/null || echo now)  # where the last run stopped, else only what comes next
$watui messages --follow --json --bodies --since "$cursor" | while read -r m; do
  if [ "$(printf '%s' "$m" | jq -r .direction)" = in ]; then
    chat=$(printf '%s' "$m" | jq -r .chat)
    # The same --key again is the same message: a run cut between the send and the cursor sends no repeat.
    printf '%s' "$m" | jq -r '"echo: " + .body' | $watui send "$chat" - --key "echo-$chat-$(printf '%s' "$m" | jq -r .id)"
  fi
  printf '%s' "$m" | jq -r .cursor > bot.cursor
done
