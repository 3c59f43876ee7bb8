#!/bin/sh
echo "coverage tools are not available in Rackboot's offline build" >&2
exit 1
