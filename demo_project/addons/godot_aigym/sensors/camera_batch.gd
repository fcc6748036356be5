## Writes the frames of many camera sensors (one per agent) into one uint8 tensor, agent after
## agent, each frame H×W×C channel-last: the tensor is a batch of shape (N, H, W, C). Each frame
## goes straight into its agent's slice (one copy after the read-back; no batch buffer).
class_name CameraBatch
extends RefCounted


## Writes every sensor's last frame in [param sensors] ([CameraSensor2D] or [CameraSensor3D]) into
## [param tensor] starting at byte [param offset]. False (with an error) if a sensor has no frame
## or the batch does not fit.
func write_frames(sensors: Array, tensor: cPersistentUintTensor, offset: int = 0) -> bool:
	if tensor == null:
		push_error("CameraBatch.write_frames: tensor is null")
		return false
	var at := offset
	for sensor in sensors:
		if not sensor.write_into(tensor, at):
			return false  # the sensor or the tensor said why
		at += sensor.get_size()
	return true
