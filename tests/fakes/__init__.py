"""Protocol-level test doubles (fake CometAPI, fake Discord) that listen on 127.0.0.1."""
