"""Export destinations: local folder (landing zone), SFTP and S3-compatible storage.

Every destination writes a file under a temporary name (or as an unfinished multipart upload) and publishes
it atomically on ``Upload.commit``: a reader never sees a partial file, and ``abort`` leaves nothing behind.
Failures raise ``export.errors.DestinationError`` with ``kind`` (auth, network, disk, config) and
``retryable``.
"""

from clarion.activation.export.destinations.base import Destination, Upload
from clarion.activation.export.destinations.factory import from_connection
from clarion.activation.export.destinations.local import local_folder
from clarion.activation.export.destinations.s3 import s3
from clarion.activation.export.destinations.sftp import sftp

__all__ = [
    "Destination",
    "Upload",
    "from_connection",
    "local_folder",
    "s3",
    "sftp",
]
